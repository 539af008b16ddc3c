// `zerocopy relay LISTEN TARGET`, the TCP proxy, run as a real child
// process as a user runs it: bytes exact both ways through it with ends
// passed on, one line per connection with both counts, --max-connections,
// a refusing target, Ctrl-C closing what it relays and exiting 0, and its
// usage errors. (`zerocopy recv --out` writes through receiveFile: the
// send/recv tests in cli.test.ts check its bytes and checksum.)
import { once } from 'node:events';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { expectBytes, MiB, seededBytes } from './support/bytes.js';
import { killLeftovers, runZerocopy, zerocopy, type Child } from './support/cli.js';
import { collect } from './support/pairs.js';
import { sleep, within } from './support/waiting.js';

const servers: net.Server[] = [];
afterEach(() => {
  killLeftovers();
  for (const server of servers.splice(0)) server.close();
});

/** A target that sends back everything it got, once the client has ended, then ends. */
async function echoTarget(): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => socket.end(Buffer.concat(chunks)));
    socket.on('error', () => {});
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

async function startRelay(args: string[]): Promise<{ relay: Child; port: number }> {
  const relay = zerocopy(['relay', ...args]);
  const [, port] = await relay.waitFor('stderr', /^listening on 127\.0\.0\.1:(\d+), relaying to /m);
  return { relay, port: Number(port) };
}

async function through(port: number, data: Buffer): Promise<{ data: Buffer; ended: boolean }> {
  const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  client.on('error', () => {});
  await once(client, 'connect');
  const answer = collect(client);
  client.end(data);
  const got = await within(answer, 15_000, 'the answer through the relay');
  client.destroy();
  return got;
}

const LINE = /^127\.0\.0\.1:\d+ -> 127\.0\.0\.1:(\d+): sent (\d+) bytes, received (\d+) bytes in \d+\.\d{3} s$/gm;

describe('zerocopy relay', () => {
  it('relays connections both ways, prints a line each with both counts, and exits 0 on SIGINT', async () => {
    const target = await echoTarget();
    const { relay, port } = await startRelay(['0', `127.0.0.1:${target}`]);
    const sizes = [3 * MiB + 3, 100, 0];
    for (const [i, size] of sizes.entries()) {
      const data = seededBytes(`cli-relay-${i}`, size);
      const back = await through(port, data);
      expect(back.ended).toBe(true);
      expectBytes(back.data, data, `connection ${i}, echoed`);
    }
    await sleep(100);
    relay.proc.kill('SIGINT');
    const done = await within(relay.exited, 10_000, 'the relay to exit');
    expect(done.code).toBe(0);
    const lines = [...done.stdout.matchAll(LINE)];
    expect(lines.map((m) => [Number(m[1]), Number(m[2]), Number(m[3])])).toEqual(sizes.map((size) => [target, size, size]));
  });

  it('ends the connections it relays on SIGINT, saying so, and exits 0', async () => {
    const target = await echoTarget();
    const { relay, port } = await startRelay(['0', `127.0.0.1:${target}`]);
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => {});
    await once(client, 'connect');
    client.write('half a request');
    await sleep(200);
    const closed = once(client, 'close');
    relay.proc.kill('SIGINT');
    await within(closed, 10_000, "the client's connection to close");
    const done = await within(relay.exited, 10_000, 'the relay to exit');
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/^127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+: stopped \(sent 14 bytes, received 0 bytes\)$/m);
  });

  it('relays at most --max-connections at once: one more is closed at once', async () => {
    const target = await echoTarget();
    const { relay, port } = await startRelay(['0', `127.0.0.1:${target}`, '--max-connections', '1']);
    const first = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    first.on('error', () => {});
    await once(first, 'connect');
    const firstAnswer = collect(first);
    await sleep(100);
    const second = net.connect(port, '127.0.0.1');
    second.on('error', () => {});
    const refused = await within(collect(second), 5000, 'the second connection to close');
    expect(refused.data.length).toBe(0);
    first.end('still relayed');
    expect((await within(firstAnswer, 5000, 'the first answer')).data.toString()).toBe('still relayed');
    relay.proc.kill('SIGINT');
    expect((await relay.exited).code).toBe(0);
  });

  it('prints a failed line for a target that refuses, and keeps running', async () => {
    const closed = net.createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { relay, port } = await startRelay(['0', `127.0.0.1:${deadPort}`]);
    const back = await through(port, Buffer.from('anyone?'));
    expect(back.data.length).toBe(0);
    await relay.waitFor('stdout', /: failed: ECONNREFUSED: .* \(sent 0 bytes, received 0 bytes\)$/m);
    relay.proc.kill('SIGINT');
    expect((await relay.exited).code).toBe(0);
  });

  it.each([
    [['relay'], /missing LISTEN \(see zerocopy relay --help\)/],
    [['relay', '0'], /missing TARGET/],
    [['relay', 'x:y:z', '127.0.0.1:1'], /bad LISTEN 'x:y:z'/],
    [['relay', '0', 'nowhere'], /bad address 'nowhere'/],
    [['relay', '0', '127.0.0.1:1', '--max-connections', '0'], /--max-connections: expected a whole number from 1/],
    [['relay', '0', '127.0.0.1:1', '--idle-timeout', 'soon'], /--idle-timeout: expected seconds/],
  ])('exits 2 on %j', async (args, message) => {
    const r = await runZerocopy(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('describes itself in --help and in the list of commands', async () => {
    const help = await runZerocopy(['relay', '--help']);
    expect(help.code).toBe(0);
    for (const word of ['zerocopy relay LISTEN TARGET', '--max-connections', '--idle-timeout', 'half-close', 'Ctrl-C']) expect(help.stdout).toContain(word);
    expect((await runZerocopy(['--help'])).stdout).toContain('relay LISTEN TARGET');
  });
});
