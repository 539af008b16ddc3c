// The `zerocopy` command: argument parsing and printing around the library,
// which does the work. `bin/zerocopy.js` calls main().
//
//   zerocopy serve [DIR] [--port N] [--host H]
//   zerocopy send FILE HOST:PORT [--offset N] [--count N] [--header TEXT] [--trailer TEXT] [--backend NAME]
//   zerocopy recv PORT [--out FILE] [--keep] [--host H]
//   zerocopy info [--json]
//   zerocopy bench [ARGS...]
//
// Exit status: 0 success, 1 failure (`zerocopy: CODE: message`), 2 usage
// error (one line, `zerocopy: message (see zerocopy CMD --help)`), 128 + the
// signal's number when a transfer is interrupted.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { connect as netConnect, createServer as createNetServer, isIPv6, type AddressInfo, type Server, type Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { finished } from 'node:stream/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { capabilities, sendFile, serveStatic } from '../index.js';

const packageRoot = join(__dirname, '..', '..', '..');

class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

/** A failure with a code, as the library's and Node's own errors have. */
function failure(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/** Runs the command line `argv` (without `node` and the script) and resolves with its exit status, also set as process.exitCode. */
export async function main(argv: string[]): Promise<number> {
  let status: number;
  try {
    status = await run(argv);
  } catch (error) {
    status = report(error);
  }
  process.exitCode = status;
  return status;
}

function report(error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`zerocopy: ${error.message} (see zerocopy${error.command ? ` ${error.command}` : ''} --help)\n`);
    return 2;
  }
  process.stderr.write(`zerocopy: ${describeError(error)}\n`);
  return 1;
}

/** `CODE: message`, on one line, without the code twice (Node's system errors start their message with it). */
function describeError(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown; name?: unknown; errors?: unknown; bytesSent?: unknown };
  let message = typeof e?.message === 'string' ? e.message : String(error);
  if (!message && Array.isArray(e?.errors)) message = e.errors.map((x: { message?: string }) => x?.message ?? String(x)).join('; ');
  message = message.split('\n')[0];
  const code = typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' ? e.name : 'Error';
  if (message.startsWith(`${code}: `)) message = message.slice(code.length + 2);
  const sent = typeof e?.bytesSent === 'number' && e.bytesSent > 0 ? ` (after ${e.bytesSent} bytes)` : '';
  return `${code}: ${message}${sent}`;
}

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError('missing command');
  if (command === '--help' || command === '-h') return print(HELP.main);
  if (command === '--version' || command === '-V') return print(version());
  if (command === 'help') {
    if (rest.length === 0) return print(HELP.main);
    if (rest.length > 1 || !(rest[0] in HELP) || rest[0] === 'main') throw new UsageError(`no help for '${rest.join(' ')}'`);
    return print(HELP[rest[0] as keyof typeof HELP]);
  }
  switch (command) {
    case 'serve':
      return serveCommand(rest);
    case 'send':
      return sendCommand(rest);
    case 'recv':
      return recvCommand(rest);
    case 'info':
      return infoCommand(rest);
    case 'bench':
      return benchCommand(rest);
    default:
      if (command.startsWith('-')) throw new UsageError(`unknown option '${command}'`);
      throw new UsageError(`unknown command '${command}'`);
  }
}

function print(text: string): number {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  return 0;
}

function version(): string {
  try {
    return JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).version as string;
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------------
// Arguments

type Options = NonNullable<ParseArgsConfig['options']>;

/** `--help` or `-h` before a `--`: the help wins over any other argument. */
function wantsHelp(args: string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

function parse<O extends Options>(command: string, args: string[], options: O, positionals: { min: number; max: number; names: string[] }) {
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
function parseBytes(command: string, name: string, text: string): number {
  const m = /^(\d+)([KMGT]?)$/i.exec(text);
  if (!m) throw new UsageError(`${name}: expected a number of bytes, optionally with K, M, G or T (e.g. 4096, 64M), got '${text}'`, command);
  const value = BigInt(m[1]) * UNITS[m[2].toUpperCase()];
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new UsageError(`${name}: ${text} is too large`, command);
  return Number(value);
}

function parsePort(command: string, name: string, text: string, min = 0): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > 65535) {
    throw new UsageError(`${name}: expected a port number from ${min} to 65535, got '${text}'`, command);
  }
  return Number(text);
}

/** HOST:PORT, with an IPv6 address in brackets: 127.0.0.1:9000, example.org:9000, [::1]:9000. */
function parseAddress(command: string, text: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:([^:]*)$/.exec(text) ?? /^([^:[\]]+):([^:]*)$/.exec(text);
  if (!m) {
    const hint = (text.match(/:/g)?.length ?? 0) > 1 ? ' (write an IPv6 address in brackets: [::1]:9000)' : ', such as 127.0.0.1:9000';
    throw new UsageError(`bad address '${text}': expected HOST:PORT${hint}`, command);
  }
  return { host: m[1], port: parsePort(command, `port in '${text}'`, m[2], 1) };
}

function hostForUrl(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}

// ---------------------------------------------------------------------------
// Printing

const MB = 1e6;

function formatBytes(n: number): string {
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let value = n / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** `N bytes in T s (X MB/s)`: MB are 10^6 bytes. */
function formatTransfer(bytes: number, seconds: number): string {
  return `${bytes} bytes in ${seconds.toFixed(3)} s (${(bytes / MB / Math.max(seconds, 1e-9)).toFixed(1)} MB/s)`;
}

/**
 * One line on stderr, redrawn at most four times a second, once a transfer
 * has run for a second; nothing at all when stderr is not a terminal.
 */
class Progress {
  private timer: NodeJS.Timeout | undefined;
  private started = 0;
  private drawn = false;

  constructor(
    /** Bytes so far. */
    private readonly sample: () => number,
    /** Bytes in all, when known. */
    private readonly total?: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  start(): this {
    if (!this.stream.isTTY) return this;
    this.started = performance.now();
    this.timer = setInterval(() => this.draw(), 250);
    this.timer.unref();
    return this;
  }

  private draw(): void {
    const elapsed = (performance.now() - this.started) / 1000;
    if (elapsed < 1) return;
    const bytes = this.sample();
    const parts: string[] = [];
    const rate = bytes / elapsed;
    if (this.total === undefined) parts.push(formatBytes(bytes));
    else parts.push(`${formatBytes(bytes)} of ${formatBytes(this.total)} (${this.total > 0 ? Math.floor((100 * bytes) / this.total) : 100}%)`);
    parts.push(`${formatBytes(rate)}/s`);
    if (this.total !== undefined && rate > 0) parts.push(`${formatDuration((this.total - bytes) / rate)} left`);
    else parts.push(`${formatDuration(elapsed)} elapsed`);
    const line = `\r${parts.join('  ')}\x1b[K`;
    this.stream.write(line);
    this.drawn = true;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn) {
      this.stream.write('\r\x1b[K');
      this.drawn = false;
    }
  }
}

// ---------------------------------------------------------------------------
// Signals

const signalNumber = (signal: NodeJS.Signals) => 128 + (osConstants.signals[signal] ?? 0);

/** Calls `handler` on the first SIGINT or SIGTERM; a second one exits at once. Returns the function that removes it. */
function onInterrupt(handler: (signal: NodeJS.Signals) => void): () => void {
  let seen = false;
  const listener = (signal: NodeJS.Signals) => {
    if (seen) process.exit(signalNumber(signal));
    seen = true;
    handler(signal);
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return () => {
    process.removeListener('SIGINT', listener);
    process.removeListener('SIGTERM', listener);
  };
}

class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

// ---------------------------------------------------------------------------
// serve

async function serveCommand(args: string[]): Promise<number> {
  if (wantsHelp(args)) return print(HELP.serve);
  const { values, positionals } = parse(
    'serve',
    args,
    { port: { type: 'string', short: 'p' }, host: { type: 'string' } },
    { min: 0, max: 1, names: ['DIR'] },
  );
  const port = values.port === undefined ? 8080 : parsePort('serve', '--port', values.port);
  const host = values.host ?? '127.0.0.1';
  if (host === '') throw new UsageError('--host: expected a host name or address', 'serve');
  const dir = resolve(positionals[0] ?? '.');
  if (!(await stat(dir)).isDirectory()) throw failure('ENOTDIR', `not a directory: '${dir}'`);

  const handler = serveStatic(dir, { cache: true });
  const server = createHttpServer((req, res) => void handler(req, res));
  await listen(server, port, host);
  const address = server.address() as AddressInfo;
  process.stdout.write(`serving ${dir} at http://${hostForUrl(address.address)}:${address.port}/\n`);

  await new Promise<void>((done) => {
    const remove = onInterrupt(() => {
      remove();
      done();
    });
  });
  const closed = new Promise<void>((done) => server.close(() => done()));
  server.closeAllConnections();
  await Promise.all([closed, handler.close()]);
  return 0;
}

function listen(server: Server, port: number, host: string | undefined): Promise<void> {
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.removeListener('error', fail);
      done();
    });
  });
}

// ---------------------------------------------------------------------------
// send

async function sendCommand(args: string[]): Promise<number> {
  if (wantsHelp(args)) return print(HELP.send);
  const { values, positionals } = parse(
    'send',
    args,
    {
      offset: { type: 'string' },
      count: { type: 'string' },
      header: { type: 'string', multiple: true },
      trailer: { type: 'string', multiple: true },
      backend: { type: 'string' },
      'no-checksum': { type: 'boolean' },
    },
    { min: 2, max: 2, names: ['FILE', 'HOST:PORT'] },
  );
  const [path, target] = positionals;
  const { host, port } = parseAddress('send', target);
  const offset = values.offset === undefined ? 0 : parseBytes('send', '--offset', values.offset);
  const wantedCount = values.count === undefined ? undefined : parseBytes('send', '--count', values.count);
  const backend = values.backend ?? 'auto';
  const backends = capabilities().backends;
  if (backend !== 'auto' && !backends.includes(backend)) {
    throw new UsageError(`--backend: '${backend}' is not one of auto, ${backends.join(', ')}`, 'send');
  }
  const headers = (values.header ?? []).map((text) => Buffer.from(text, 'utf8'));
  const trailers = (values.trailer ?? []).map((text) => Buffer.from(text, 'utf8'));

  const file = await open(path, 'r');
  try {
    // Refuse what sendFile would refuse before connecting, so that the
    // receiver is not left with an empty connection.
    const before = await file.stat();
    if (before.isDirectory()) throw failure('EISDIR', `illegal operation on a directory, read '${path}'`);
    if (!before.isFile()) throw failure('ERR_INVALID_ARG_VALUE', `'${path}' is not a regular file`);
    const count = wantedCount ?? Math.max(0, before.size - offset);
    if (offset + count > before.size) {
      throw failure('ERR_FILE_TRUNCATED', `'${path}' holds ${before.size} bytes, the range ends at byte ${offset + count}`);
    }
    const total = byteLength(headers) + count + byteLength(trailers);

    const controller = new AbortController();
    let interrupted: NodeJS.Signals | undefined;
    const removeInterrupt = onInterrupt((signal) => {
      interrupted = signal;
      controller.abort(new Interrupted(signal));
    });
    let bytesSent = 0;
    try {
      const socket = await connect(host, port, controller.signal);
      let socketError: Error | undefined;
      socket.on('error', (error) => (socketError ??= error));
      let sentSoFar = 0;
      const progress = new Progress(() => sentSoFar, total).start();
      const started = performance.now();
      let result;
      let seconds: number;
      try {
        result = await sendFile(socket, file, {
          offset,
          count,
          headers,
          trailers,
          backend,
          signal: controller.signal,
          onProgress: (bytes) => (sentSoFar = bytes),
        });
        bytesSent = result.bytesSent;
        // Done when the receiver has read everything and closed its end.
        await endAndClose(socket, controller.signal);
        seconds = (performance.now() - started) / 1000;
      } finally {
        progress.stop();
        socket.destroy();
      }
      if (socketError) throw Object.assign(socketError, { bytesSent });
      removeInterrupt();
      let line = `sent ${formatTransfer(result.bytesSent, seconds)} via ${result.backend}`;
      if (!values['no-checksum']) {
        const digest = await checksum(file, offset, count, headers, trailers);
        const after = await file.stat();
        if (after.mtimeMs !== before.mtimeMs || after.size !== before.size) {
          process.stderr.write(`zerocopy: warning: '${path}' changed while it was sent; the checksum may not match what was sent\n`);
        }
        line += ` sha256 ${digest}`;
      }
      process.stdout.write(`${line}\n`);
      return 0;
    } catch (error) {
      if (interrupted) {
        const sent = (error as { bytesSent?: number }).bytesSent ?? bytesSent;
        process.stderr.write(`zerocopy: interrupted${sent > 0 ? ` after ${sent} bytes` : ''}\n`);
        return signalNumber(interrupted);
      }
      throw error;
    } finally {
      removeInterrupt();
    }
  } finally {
    await file.close();
  }
}

function byteLength(chunks: Buffer[]): number {
  return chunks.reduce((sum, chunk) => sum + chunk.length, 0);
}

function connect(host: string, port: number, signal: AbortSignal): Promise<Socket> {
  return new Promise((done, fail) => {
    const socket = netConnect({ host, port, signal });
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.removeListener('error', fail);
      done(socket);
    });
  });
}

/** Ends the socket and waits for the peer to close its side (whatever it sends meanwhile is discarded). */
function endAndClose(socket: Socket, signal: AbortSignal): Promise<void> {
  return new Promise((done, fail) => {
    const onAbort = () => fail(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => {
      signal.removeEventListener('abort', onAbort);
      done();
    });
    socket.resume();
    socket.end();
  });
}

/** SHA-256 of the headers, the file range (read again, from the file) and the trailers. */
async function checksum(file: FileHandle, offset: number, count: number, headers: Buffer[], trailers: Buffer[]): Promise<string> {
  const hash = createHash('sha256');
  for (const chunk of headers) hash.update(chunk);
  const buffer = Buffer.allocUnsafe(Math.min(count, 1 << 20) || 1);
  for (let done = 0; done < count; ) {
    const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, count - done), offset + done);
    if (bytesRead === 0) throw failure('ERR_FILE_TRUNCATED', 'the file became shorter after it was sent: no checksum');
    hash.update(buffer.subarray(0, bytesRead));
    done += bytesRead;
  }
  for (const chunk of trailers) hash.update(chunk);
  return hash.digest('hex');
}

// ---------------------------------------------------------------------------
// recv

async function recvCommand(args: string[]): Promise<number> {
  if (wantsHelp(args)) return print(HELP.recv);
  const { values, positionals } = parse(
    'recv',
    args,
    { out: { type: 'string', short: 'o' }, keep: { type: 'boolean' }, host: { type: 'string' }, 'no-checksum': { type: 'boolean' } },
    { min: 1, max: 1, names: ['PORT'] },
  );
  const port = parsePort('recv', 'PORT', positionals[0]);
  if (values.out === '') throw new UsageError('--out: expected a file name', 'recv');
  if (values.host === '') throw new UsageError('--host: expected a host name or address', 'recv');
  const keep = values.keep ?? false;

  // Created (or emptied) before listening, so that a bad path fails at once.
  const out = values.out;
  if (out !== undefined) await (await open(out, 'w')).close();
  const server = createNetServer({ pauseOnConnect: true });
  try {
    await listen(server, port, values.host);
    const address = server.address() as AddressInfo;
    process.stderr.write(`listening on ${hostForUrl(address.address)}:${address.port}\n`);

    const queue: Socket[] = [];
    let wake: (() => void) | undefined;
    server.on('connection', (socket) => {
      if (!keep) server.close(); // one connection: stop accepting more
      queue.push(socket);
      wake?.();
    });
    let interrupted: NodeJS.Signals | undefined;
    let current: Socket | undefined;
    const removeInterrupt = onInterrupt((signal) => {
      interrupted = signal;
      if (current) current.destroy(new Interrupted(signal));
      else wake?.();
    });
    try {
      for (;;) {
        while (queue.length === 0 && !interrupted) await new Promise<void>((done) => (wake = done));
        wake = undefined;
        if (interrupted) return 0; // stopped while waiting: a clean stop
        const socket = (current = queue.shift()!);
        const counted = { bytes: 0 };
        try {
          const { bytes, seconds, digest } = await receive(socket, out, !values['no-checksum'], counted);
          process.stdout.write(`received ${formatTransfer(bytes, seconds)}${digest === undefined ? '' : ` sha256 ${digest}`}\n`);
        } catch (error) {
          if (interrupted) {
            process.stderr.write(`zerocopy: interrupted${counted.bytes > 0 ? ` after ${counted.bytes} bytes` : ''}\n`);
            return signalNumber(interrupted);
          }
          if (!keep) throw error;
          process.stderr.write(`zerocopy: ${describeError(error)} (after ${counted.bytes} bytes)\n`);
        } finally {
          current = undefined;
          socket.destroy();
        }
        if (!keep) return 0;
      }
    } finally {
      removeInterrupt();
      for (const socket of queue) socket.destroy();
    }
  } finally {
    server.close();
  }
}

/** Reads one connection to its end: counts, hashes, and writes to the file `out` (created or emptied). */
async function receive(socket: Socket, out: string | undefined, hashing: boolean, counted: { bytes: number }) {
  const hash = hashing ? createHash('sha256') : undefined;
  const progress = new Progress(() => counted.bytes).start();
  const started = performance.now();
  // Plain 'data' handlers: a pipeline of streams costs a good share of the rate on a fast link.
  const sink = out === undefined ? undefined : createWriteStream(out);
  sink?.on('error', (error) => socket.destroy(error));
  socket.on('data', (chunk: Buffer) => {
    hash?.update(chunk);
    counted.bytes += chunk.length;
    if (sink && !sink.write(chunk)) {
      socket.pause();
      sink.once('drain', () => socket.resume());
    }
  });
  socket.resume();
  try {
    await finished(socket, { writable: false });
    if (sink) {
      sink.end();
      await finished(sink);
    }
  } finally {
    progress.stop();
    sink?.destroy();
  }
  return { bytes: counted.bytes, seconds: (performance.now() - started) / 1000, digest: hash?.digest('hex') };
}

// ---------------------------------------------------------------------------
// info

async function infoCommand(args: string[]): Promise<number> {
  if (wantsHelp(args)) return print(HELP.info);
  const { values } = parse('info', args, { json: { type: 'boolean' } }, { min: 0, max: 0, names: [] });
  const caps = capabilities();
  if (values.json) return print(JSON.stringify(caps, null, 2));
  const yes = (value: boolean) => (value ? 'yes' : 'no');
  const rows: [string, string][] = [
    ['native addon', caps.native ? 'loaded' : `not loaded: ${caps.loadError ?? 'unknown reason'}`],
    ['backends', `${caps.backends.join(', ')} (best first)`],
    ['zero-copy', caps.zeroCopy ? `yes: ${caps.backends[0]} keeps file bytes out of user space` : `no: ${caps.backends[0]} copies them through user space`],
    [
      'headers/trailers',
      {
        vector: 'vector: in the same system call as the file',
        cork: 'cork: held with the file by TCP_CORK',
        copy: 'copy: written separately',
      }[caps.headersTrailers],
    ],
    ['read leases', yes(caps.leases)],
    ['file to file', yes(caps.fileToFile)],
    ['file to pipe', yes(caps.fileToPipe)],
    ['largest chunk', `${caps.maxChunk} bytes per system call`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  const lines = [`zerocopy ${version()} on ${caps.platform} ${caps.arch}, Node.js ${process.version}`, ...rows.map(([name, value]) => name.padEnd(width) + value)];
  return print(lines.join('\n'));
}

// ---------------------------------------------------------------------------
// bench

async function benchCommand(args: string[]): Promise<number> {
  const script = join(packageRoot, 'bench', 'run.js');
  const help = wantsHelp(args);
  if (help) process.stdout.write(HELP.bench);
  if (!existsSync(script)) {
    if (help) return print(`\n(The benchmarks are not installed here: ${script} is missing.)`);
    throw failure('ENOENT', `the benchmarks are not installed: ${script} is missing`);
  }
  if (help) process.stdout.write(`\nOptions of bench/run.js:\n\n`);
  const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit' });
  // Ctrl-C reaches the child from the terminal: the child decides how to stop,
  // and this process reports how it did. A signal sent to this process alone is passed on.
  const ignore = () => {};
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', ignore);
  process.on('SIGTERM', forward);
  process.on('SIGHUP', forward);
  try {
    return await new Promise<number>((done, fail) => {
      child.once('error', fail);
      child.once('exit', (code, signal) => done(code ?? signalNumber(signal ?? 'SIGTERM')));
    });
  } finally {
    process.removeListener('SIGINT', ignore);
    process.removeListener('SIGTERM', forward);
    process.removeListener('SIGHUP', forward);
  }
}

// ---------------------------------------------------------------------------
// Help

const HELP = {
  main: `usage: zerocopy <command> [options]

Send files without copying them through JavaScript (sendfile(2) and friends).

Commands:
  serve [DIR]            serve the files under DIR (default: .) over HTTP
  send FILE HOST:PORT    send a file, or a range of it, to a receiver
  recv PORT              receive on a TCP port; report bytes, time, rate, checksum
  info                   what this machine can do (capabilities())
  bench [ARGS...]        run the benchmarks (bench/run.js)

zerocopy <command> --help describes a command; zerocopy --version prints the version.

Exit status: 0 success, 1 failure, 2 usage error, 128+N interrupted by signal N.
`,
  serve: `usage: zerocopy serve [DIR] [--port N] [--host H]

Serves the files under DIR (default: the current directory) over HTTP with
serveStatic: GET and HEAD, ranges, conditional requests, index.html for
directories; dotfiles are not served. Prints "serving DIR at URL".
Ctrl-C (SIGINT) or SIGTERM closes the server and exits 0.

Options:
  -p, --port N   the TCP port (default 8080; 0 picks a free one and prints it)
  --host H       the address to listen on (default 127.0.0.1, this machine
                 only; 0.0.0.0 or :: for every interface)
  -h, --help     this help
`,
  send: `usage: zerocopy send FILE HOST:PORT [options]

Connects to HOST:PORT (an IPv6 address in brackets: [::1]:9000) and sends
FILE, or the range of it given, with sendFile(); then waits for the receiver
to close the connection, and prints
  sent N bytes in T s (X MB/s) via BACKEND sha256 H
where N counts headers, file bytes and trailers, MB are 10^6 bytes, and H is
the SHA-256 of exactly those bytes, for comparing with what the receiver
(zerocopy recv) prints. The checksum costs a second read of the range, made
after the transfer and not timed; --no-checksum skips it.

Options:
  --offset N       the first byte of FILE to send (default 0)
  --count N        how many bytes of FILE to send (default: to its end)
                   N: bytes, or with K, M, G or T (binary: 1M = 1048576)
  --header TEXT    bytes to send before the file, as UTF-8; repeat for more.
                   For a line break, use your shell's quoting: $'SIZE 42\\n'
  --trailer TEXT   bytes to send after the file, likewise
  --backend NAME   auto (default) or one of this machine's backends (see
                   zerocopy info)
  --no-checksum    do not compute the checksum
  -h, --help       this help

When stderr is a terminal, a transfer longer than a second shows its progress
there. Ctrl-C stops the transfer and exits 130.
`,
  recv: `usage: zerocopy recv PORT [--out FILE] [--keep] [--host H]

Listens on TCP port PORT (0 picks a free one; "listening on ADDRESS:PORT" is
printed on stderr), accepts one connection, reads it to its end and prints
on stdout
  received N bytes in T s (X MB/s) sha256 H
where MB are 10^6 bytes and H is the SHA-256 of the bytes received, for
comparing with what the sender (zerocopy send) prints.

Options:
  -o, --out FILE   write the bytes to FILE (created or emptied first);
                   without it they are counted, hashed and discarded
  --keep           accept connections one after another until Ctrl-C
                   (with --out, each one rewrites FILE)
  --host H         the address to listen on (default: every interface, so
                   that another machine can send; 127.0.0.1 for this one only)
  --no-checksum    do not compute the checksum (hashing takes CPU time that
                   can slow a fast link down)
  -h, --help       this help

When stderr is a terminal, a transfer longer than a second shows its progress
there. Ctrl-C while waiting exits 0; during a transfer, 130.
`,
  info: `usage: zerocopy info [--json]

Prints what capabilities() says about this machine and this process: whether
the native addon loaded (and why not), the backends best first, whether the
best one is zero-copy, how headers and trailers travel, and the largest chunk
one system call moves.

Options:
  --json       the capabilities() object as JSON
  -h, --help   this help
`,
  bench: `usage: zerocopy bench [ARGS...]

Runs the benchmarks: node <package>/bench/run.js ARGS..., with this terminal,
and exits with its status.
`,
};
