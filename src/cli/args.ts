// Arguments for every command: node:util's parseArgs, with its errors turned
// into usage errors of one line, and the parsers for byte counts, ports and
// HOST:PORT. A UsageError names its command, so that the message can point
// at that command's --help; main() prints it and exits 2.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;
// What parse() returns, written out: left to inference, the declaration file
// would need node:util's option types, which that module does not export.
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** `--help` or `-h` before a `--`: the help wins over any other argument. */
export function wantsHelp(args: string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

/** parseArgs, strict, with its errors and a wrong number of positionals (named for the message) as UsageErrors. */
export function parse<O extends Options>(
  command: string,
  args: string[],
  options: O,
  positionals: { min: number; max: number; names: string[] },
): { values: Parsed<O>['values']; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(parseArgsMessage(error), command);
  }
  const { values, positionals: given } = parsed;
  if (given.length < positionals.min) throw new UsageError(`missing ${positionals.names[given.length]}`, command);
  if (given.length > positionals.max) throw new UsageError(`unexpected argument '${given[positionals.max]}'`, command);
  return { values, positionals: given };
}

/** parseArgs's messages run over several lines and sentences; one short line instead. */
function parseArgsMessage(error: unknown): string {
  const { code, message } = error as { code?: string; message: string };
  const option = /'(?:-\w, )?(-[^' ]*)/.exec(message)?.[1]; // "'-p, --port <value>'": --port
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${option}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(message)) return `option ${option} takes no value`;
      if (/ambiguous/.test(message)) return `option ${option} needs a value (for one that starts with '-', write ${option}=VALUE)`;
      return `option ${option} needs a value`;
    default:
      return message.split('\n')[0];
  }
}

const UNITS: Record<string, bigint> = { '': 1n, K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n };

/** A byte count or offset: digits, optionally with K, M, G or T (binary: 1M = 1048576). */
export function parseBytes(command: string, name: string, text: string): number {
  const m = /^(\d+)([KMGT]?)$/i.exec(text);
  if (!m) throw new UsageError(`${name}: expected a number of bytes, optionally with K, M, G or T (e.g. 4096, 64M), got '${text}'`, command);
  const value = BigInt(m[1]) * UNITS[m[2].toUpperCase()];
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new UsageError(`${name}: ${text} is too large`, command);
  return Number(value);
}

export function parsePort(command: string, name: string, text: string, min = 0): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > 65535) {
    throw new UsageError(`${name}: expected a port number from ${min} to 65535, got '${text}'`, command);
  }
  return Number(text);
}

/** HOST:PORT, with an IPv6 address in brackets: 127.0.0.1:9000, example.org:9000, [::1]:9000. */
export function parseAddress(command: string, text: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:([^:]*)$/.exec(text) ?? /^([^:[\]]+):([^:]*)$/.exec(text);
  if (!m) {
    const hint = (text.match(/:/g)?.length ?? 0) > 1 ? ' (write an IPv6 address in brackets: [::1]:9000)' : ', such as 127.0.0.1:9000';
    throw new UsageError(`bad address '${text}': expected HOST:PORT${hint}`, command);
  }
  return { host: m[1], port: parsePort(command, `port in '${text}'`, m[2], 1) };
}
