// `zerocopy relay`: a TCP proxy over relay(): every connection accepted on
// LISTEN is joined to a new connection to TARGET, both ways, until both
// have ended; one line per connection says what went each way. Both sides
// are half-open capable (allowHalfOpen), so an end is passed on as a
// half-close, as a proxy must.
import { connect, createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { relay, type RelayError } from '../index.js';
import { parse, parseAddress, parsePort, UsageError, wantsHelp } from './args.js';
import { describeError } from './errors.js';
import { DEFAULT_HOST, formatAddress, listen } from './listen.js';
import { print } from './output.js';
import { interrupted } from './signals.js';

export const relayHelp = `usage: zerocopy relay LISTEN TARGET [options]

A TCP proxy: listens on LISTEN ([HOST:]PORT; HOST defaults to 127.0.0.1,
this machine only; PORT 0 picks a free one, and "listening on ADDRESS:PORT"
is printed on stderr), and joins every connection it accepts to a new
connection to TARGET (HOST:PORT) with relay(): on Linux the bytes go from
socket to socket by splice(2), without entering the process. An end of
stream is passed on as a half-close. When both directions have ended, or
either side fails, it prints one line on stdout:
  CLIENT -> TARGET: sent N bytes, received M bytes in T s
or, for a connection that failed (a reset, TARGET refusing it),
  CLIENT -> TARGET: failed: CODE: message (sent N bytes, received M bytes)
and for one still open when the relay is stopped,
  CLIENT -> TARGET: stopped (sent N bytes, received M bytes)
where "sent" counts the client's bytes to TARGET and "received" TARGET's
bytes to the client.

Options:
  --max-connections N   relay at most N connections at once; connections
                        beyond are closed at once (Node's maxConnections)
  --idle-timeout S      end a connection on which no byte moved either way
                        for S seconds (default: never)
  --quiet               no line per connection
  -h, --help            this help

Ctrl-C (or SIGTERM) stops listening, ends the connections being relayed,
prints their lines, and exits 0; a second Ctrl-C exits at once.
`;

/** `[HOST:]PORT` for LISTEN. */
function parseListen(text: string): { host: string; port: number } {
  if (/^\d+$/.test(text)) return { host: DEFAULT_HOST, port: parsePort('relay', 'LISTEN', text) };
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m) throw new UsageError(`bad LISTEN '${text}': expected PORT or HOST:PORT`, 'relay');
  return { host: m[1], port: parsePort('relay', `port in '${text}'`, m[2]) };
}

const peerOf = (socket: Socket) => (socket.remoteAddress ? formatAddress(socket.remoteAddress, socket.remotePort ?? 0) : 'a client');

export async function relayCommand(args: string[]): Promise<number> {
  if (wantsHelp(args)) return print(relayHelp);
  const { values, positionals } = parse(
    'relay',
    args,
    { 'max-connections': { type: 'string' }, 'idle-timeout': { type: 'string' }, quiet: { type: 'boolean' } },
    { min: 2, max: 2, names: ['LISTEN', 'TARGET'] },
  );
  const at = parseListen(positionals[0]);
  const target = parseAddress('relay', positionals[1]);
  const maxText = values['max-connections'];
  if (maxText !== undefined && (!/^\d+$/.test(maxText) || Number(maxText) < 1)) {
    throw new UsageError(`--max-connections: expected a whole number from 1, got '${maxText}'`, 'relay');
  }
  const idleText = values['idle-timeout'];
  if (idleText !== undefined && !(/^\d+(\.\d+)?$/.test(idleText) && Number(idleText) > 0)) {
    throw new UsageError(`--idle-timeout: expected seconds greater than 0, got '${idleText}'`, 'relay');
  }
  const idleTimeout = idleText === undefined ? undefined : Number(idleText) * 1000;
  const targetName = formatAddress(target.host, target.port);
  const say = (line: string) => {
    if (!values.quiet) process.stdout.write(`${line}\n`);
  };

  const stopping = new AbortController();
  const running = new Set<Promise<void>>();
  // allowHalfOpen on both sides: an end is the client's or the target's to
  // pass on, not a reason to close the other direction.
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    const name = `${peerOf(client)} -> ${targetName}`;
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    const started = performance.now();
    const one = relay(client, upstream, { signal: stopping.signal, idleTimeout }).then(
      ({ aToB, bToA }) => say(`${name}: sent ${aToB} bytes, received ${bToA} bytes in ${((performance.now() - started) / 1000).toFixed(3)} s`),
      (error: RelayError) => {
        const counts = `sent ${error.aToB ?? 0} bytes, received ${error.bToA ?? 0} bytes`;
        say(stopping.signal.aborted && error.code === 'ABORT_ERR' ? `${name}: stopped (${counts})` : `${name}: failed: ${describeError(error)} (${counts})`);
      },
    );
    running.add(one);
    void one.then(() => running.delete(one));
  });
  if (maxText !== undefined) server.maxConnections = Number(maxText);
  const address = await listen(server, at.port, at.host);
  process.stderr.write(`listening on ${address}, relaying to ${targetName}\n`);
  await interrupted();
  // A clean stop: no new connections, the current ones ended and reported.
  server.close();
  stopping.abort();
  await Promise.all(running);
  return 0;
}
