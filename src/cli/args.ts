// Arguments for every command: node:util's parseArgs, with its errors turned
// into usage errors of one line, and the parsers for byte counts, ports and
// HOST:PORT. A UsageError names its command, so that the message can point
// at that command's --help; main() prints it and exits 2.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseMs } from '../duration.js';

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

const ESCAPES: Record<string, number> = { n: 0x0a, r: 0x0d, t: 0x09, '0': 0x00, '\\': 0x5c };

/**
 * TEXT as UTF-8 bytes, with the usual escapes turned into the bytes they
 * stand for: \n \r \t, \0 (a NUL byte), \\ and \xHH (one byte, which
 * need not be valid UTF-8). An unknown escape is a usage error rather than
 * a guess, so that what is sent is what was meant.
 */
export function parseEscapes(command: string, name: string, text: string): Buffer {
  const bytes: Buffer[] = [];
  let literal = 0;
  for (let i = text.indexOf('\\'); i !== -1; i = text.indexOf('\\', literal)) {
    bytes.push(Buffer.from(text.slice(literal, i), 'utf8'));
    const next = text[i + 1];
    if (next === 'x' && /^[0-9a-f]{2}$/i.test(text.slice(i + 2, i + 4))) {
      bytes.push(Buffer.from([parseInt(text.slice(i + 2, i + 4), 16)]));
      literal = i + 4;
    } else if (next !== undefined && Object.hasOwn(ESCAPES, next)) {
      bytes.push(Buffer.from([ESCAPES[next]]));
      literal = i + 2;
    } else {
      const shown = next === 'x' ? text.slice(i, i + 4) : text.slice(i, i + 2);
      throw new UsageError(`${name}: unknown escape '${shown}' (known: \\n \\r \\t \\0 \\\\ \\xHH)`, command);
    }
  }
  bytes.push(Buffer.from(text.slice(literal), 'utf8'));
  return Buffer.concat(bytes);
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

/**
 * A duration in milliseconds: a bare number is seconds, as other static
 * servers' command lines take a max-age; a number with a unit is read by
 * the `ms` package, as serveStatic reads a maxAge string (500ms, 90s, 10m,
 * 12h, 7d, 2w, 1y).
 */
export function parseDuration(command: string, name: string, text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const millis = parseMs(text);
  if (millis === undefined) {
    throw new UsageError(`${name}: expected seconds or a number with a unit (ms, s, m, h, d, w, y), such as 3600 or 1h, got '${text}'`, command);
  }
  return millis;
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
