// The `zerocopy` command line tool, run as a real child process exactly as a
// user would run it (`node bin/zerocopy.js ...`): exit statuses, what it
// prints, the bytes it moves. Never its speeds.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from './support/bytes.js';
import { bin, Child, killLeftovers, packageRoot as root, runZerocopy, zerocopy } from './support/cli.js';

const { capabilities } = createRequire(__filename)(root) as { capabilities(): { backends: string[] } };

// The progress line needs a terminal: util-linux's `script` gives the child one.
const hasScript = spawnSync('script', ['-qec', 'true', '/dev/null'], { stdio: 'ignore' }).status === 0;
if (!hasScript) console.warn('cli.test.ts: skipping the progress tests: they need `script` (util-linux) for a pseudo-terminal');

const run = runZerocopy;

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The same, with stdout and stderr on a pseudo-terminal; everything it printed arrives on stdout. */
function zerocopyOnTerminal(args: string[]): Child {
  const command = [process.execPath, bin, ...args].map(shellQuote).join(' ');
  return new Child('script', ['-qec', command, '/dev/null']);
}

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'zerocopy-cli-test-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const servers: Server[] = [];
afterEach(() => {
  killLeftovers();
  for (const server of servers.splice(0)) server.close();
});

function listen(onConnection: (socket: Socket) => void): Promise<number> {
  const server = createServer(onConnection);
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

/** A port nothing listens on (one that something just stopped listening on). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function file(name: string, data: Buffer): string {
  const path = join(scratch, name);
  writeFileSync(path, data);
  return path;
}

const SENT = /^sent (\d+) bytes in \d+\.\d{3} s \(\d+\.\d MB\/s\) via (\w+) sha256 ([0-9a-f]{64})\n$/;
const RECEIVED = /^received (\d+) bytes in \d+\.\d{3} s \(\d+\.\d MB\/s\) sha256 ([0-9a-f]{64})\n/gm;

/** Starts `zerocopy recv 0 ...args` and waits for its port: on 127.0.0.1, its default host, as serve's. */
async function startReceiver(args: string[] = []): Promise<{ receiver: Child; port: number }> {
  const receiver = zerocopy(['recv', '0', ...args]);
  const [, port] = await receiver.waitFor('stderr', /^listening on 127\.0\.0\.1:(\d+)$/m);
  return { receiver, port: Number(port) };
}

describe('zerocopy --help', () => {
  const cases: [string[], string[]][] = [
    [['--help'], ['serve', 'send', 'recv', 'info', 'bench', 'Exit status']],
    [['help'], ['serve', 'send', 'recv', 'info', 'bench']],
    [['serve', '--help'], ['zerocopy serve [DIR]', '--port', '--host']],
    [['send', '--help'], ['zerocopy send FILE HOST:PORT', '--offset', '--count', '--header', '--trailer', '--backend', '--no-checksum', 'second read']],
    [['recv', '--help'], ['zerocopy recv PORT', '--out', '--keep', '--host', '--no-checksum']],
    [['info', '--help'], ['zerocopy info', '--json']],
    [['help', 'send'], ['zerocopy send FILE HOST:PORT', '--offset']],
    // The help wins over the other arguments, right or wrong.
    [['send', 'x', '--bogus', '-h'], ['zerocopy send FILE HOST:PORT']],
  ];
  it('prints each command\'s usage and options on stdout and exits 0', async () => {
    const runs = await Promise.all(cases.map(([args]) => run(args)));
    runs.forEach((result, i) => {
      const [args, words] = cases[i];
      expect({ args, code: result.code, stderr: result.stderr }).toEqual({ args, code: 0, stderr: '' });
      for (const word of words) expect(result.stdout, `${args.join(' ')}`).toContain(word);
    });
  });

  it('prints the version', async () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(await run(['--version'])).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});

describe('usage errors', () => {
  const cases: [string[], RegExp][] = [
    [[], /missing command \(see zerocopy --help\)/],
    [['frob'], /unknown command 'frob' \(see zerocopy --help\)/],
    [['--frob'], /unknown option '--frob'/],
    [['help', 'frob'], /no help for 'frob'/],
    // Names every JavaScript object has are no commands either.
    [['help', 'toString'], /no help for 'toString'/],
    [['help', '__proto__'], /no help for '__proto__'/],
    [['send'], /missing FILE \(see zerocopy send --help\)/],
    [['send', 'f'], /missing HOST:PORT/],
    [['send', 'f', 'nowhere'], /bad address 'nowhere'/],
    [['send', 'f', '::1:9000'], /brackets/],
    [['send', 'f', 'host:70000'], /port/],
    [['send', 'f', 'host:0'], /port/],
    [['send', 'f', 'h:1', 'extra'], /unexpected argument 'extra'/],
    [['send', 'f', 'h:1', '--offset', 'ten'], /--offset/],
    [['send', 'f', 'h:1', '--count', '1.5'], /--count/],
    [['send', 'f', 'h:1', '--count', '-1'], /--count/],
    [['send', 'f', 'h:1', '--count'], /option --count needs a value/],
    [['send', 'f', 'h:1', '--backend', 'warp'], /--backend: 'warp'/],
    [['send', 'f', 'h:1', '--no-checksum=yes'], /takes no value/],
    [['send', 'f', 'h:1', '--header', 'SIZE\\q'], /--header: unknown escape '\\q' \(known: \\n \\r \\t \\0 \\\\ \\xHH\)/],
    [['send', 'f', 'h:1', '--trailer', 'END\\x4'], /--trailer: unknown escape '\\x4'/],
    [['send', 'f', 'h:1', '--trailer', 'END\\'], /--trailer: unknown escape '\\'/],
    [['recv'], /missing PORT \(see zerocopy recv --help\)/],
    [['recv', 'http'], /PORT/],
    [['recv', '1', '2'], /unexpected argument '2'/],
    [['recv', '0', '--out'], /option --out needs a value/],
    [['serve', '--port'], /option --port needs a value \(see zerocopy serve --help\)/],
    [['serve', '--port', '65536'], /--port/],
    [['serve', '--bogus'], /unknown option '--bogus'/],
    [['serve', 'a', 'b'], /unexpected argument 'b'/],
    [['serve', '--tls-cert', 'c.pem'], /--tls-cert needs --tls-key too/],
    [['serve', '--tls-key', 'k.pem'], /--tls-key needs --tls-cert too/],
    [['serve', '--max-age', '1x'], /--max-age: expected seconds or a number with a unit/],
    [['serve', '--max-age', '-5'], /--max-age/],
    [['serve', '--workers', '0'], /--workers: expected auto or a number from 1 to 1024, got '0'/],
    [['serve', '--workers', 'many'], /--workers/],
    [['serve', '--quiet=yes'], /option --quiet takes no value/],
    [['serve', '--extensions', 'html,,htm'], /--extensions: expected extensions separated by commas/],
    [['serve', '--extensions', 'a/b'], /--extensions/],
    [['serve', '--single=index.html'], /option --single takes no value/],
    [['info', '--jsno'], /unknown option '--jsno' \(see zerocopy info --help\)/],
    [['info', 'x'], /unexpected argument 'x'/],
  ];
  it('print one line, "zerocopy: <message> (see zerocopy <cmd> --help)", and exit 2', async () => {
    const runs = await Promise.all(cases.map(([args]) => run(args)));
    runs.forEach((result, i) => {
      const [args, pattern] = cases[i];
      expect({ args, code: result.code, stdout: result.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(result.stderr).toMatch(/^zerocopy: [^\n]+ \(see zerocopy( \w+)? --help\)\n$/);
      expect(result.stderr).toMatch(pattern);
    });
  });
});

describe('zerocopy info', () => {
  it('says what capabilities() says, readably', async () => {
    const result = await run(['info']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const caps = capabilities();
    expect(result.stdout).toMatch(/^native addon +(loaded|not loaded: .+)$/m);
    expect(result.stdout).toMatch(new RegExp(`^backends +${caps.backends.join(', ')} \\(best first\\)$`, 'm'));
  });

  it('--json prints capabilities() as JSON', async () => {
    const result = await run(['info', '--json']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual(capabilities());
  });

  it('without the addon, says why and prints the command that builds it, the one the README gives', async () => {
    const missing = join(scratch, 'no-such-addon.node');
    const result = await run(['info'], { env: { ZEROCOPY_ADDON: missing } });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^native addon +not loaded: Cannot find module '\S+no-such-addon\.node'$/m);
    expect(result.stdout).toMatch(/^backends +stream \(best first\)$/m);
    const { devDependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const command = `npm install --save-dev cmake-js@${devDependencies['cmake-js']} node-addon-api@${devDependencies['node-addon-api']} && npx zerocopy build`;
    expect(result.stdout).toContain(`\n  ${command}\n`);
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain(`\n${command}\n`);

    // Turned off on purpose: nothing to build.
    const disabled = await run(['info'], { env: { ZEROCOPY_DISABLE_NATIVE: '1' } });
    expect(disabled.stdout).toMatch(/^native addon +not loaded: disabled by the ZEROCOPY_DISABLE_NATIVE/m);
    expect(disabled.stdout).not.toContain('zerocopy build');
  });
});

describe('zerocopy send and zerocopy recv', () => {
  it('move a range with headers and trailers; both print the checksum of exactly those bytes', async () => {
    const data = randomBytes(3 << 20);
    const path = file('range.bin', data);
    const out = join(scratch, 'range.out');
    const { receiver, port } = await startReceiver(['--out', out]);
    const headers = ['HEAD 1\n', 'ÜBER ✓ '];
    const trailers = ['\nTAIL'];
    const sender = await run([
      'send', path, `127.0.0.1:${port}`, '--offset', '1000', '--count', '2000000',
      ...headers.flatMap((h) => ['--header', h]), ...trailers.flatMap((t) => ['--trailer', t]),
    ]);
    const expected = Buffer.concat([...headers.map((h) => Buffer.from(h)), data.subarray(1000, 2_001_000), ...trailers.map((t) => Buffer.from(t))]);

    expect(sender.stderr).toBe(''); // not a terminal: no progress
    expect(sender.code).toBe(0);
    const sent = SENT.exec(sender.stdout);
    expect(sent, sender.stdout).not.toBeNull();
    expect(Number(sent![1])).toBe(expected.length);
    expect(capabilities().backends).toContain(sent![2]);
    expect(sent![3]).toBe(sha256(expected));

    const received = await receiver.exited;
    expect(received.code).toBe(0);
    expect(received.stderr).toMatch(/^listening on 127\.0\.0\.1:\d+\n$/);
    const lines = [...received.stdout.matchAll(RECEIVED)];
    expect(lines, received.stdout).toHaveLength(1);
    expect(Number(lines[0][1])).toBe(expected.length);
    expect(lines[0][2]).toBe(sha256(expected));
    expect(readFileSync(out).equals(expected)).toBe(true);
  });

  it('recv --keep takes one connection after another until SIGINT; every backend, whole files, no --out', async () => {
    const data = randomBytes(1 << 20);
    const path = file('whole.bin', data);
    const { receiver, port } = await startReceiver(['--keep']);
    const backends = capabilities().backends;
    for (const backend of backends) {
      const sender = await run(['send', path, `127.0.0.1:${port}`, '--backend', backend]);
      expect({ backend, code: sender.code, stderr: sender.stderr }).toEqual({ backend, code: 0, stderr: '' });
      const sent = SENT.exec(sender.stdout);
      expect(sent && [Number(sent[1]), sent[2], sent[3]]).toEqual([data.length, backend, sha256(data)]);
    }
    // An empty file, with --no-checksum on the sender.
    const empty = await run(['send', file('empty.bin', Buffer.alloc(0)), `127.0.0.1:${port}`, '--no-checksum']);
    expect(empty).toMatchObject({ code: 0, stderr: '' });
    expect(empty.stdout).toMatch(/^sent 0 bytes in \d+\.\d{3} s \(\d+\.\d MB\/s\) via \w+\n$/);

    await receiver.waitFor('stdout', new RegExp(`(^received [^\\n]*\\n){${backends.length + 1}}`, 'm'));
    receiver.proc.kill('SIGINT');
    const received = await receiver.exited;
    expect(received.code).toBe(0);
    const lines = [...received.stdout.matchAll(RECEIVED)].map((m) => [Number(m[1]), m[2]]);
    expect(lines).toEqual([...backends.map(() => [data.length, sha256(data)]), [0, sha256(Buffer.alloc(0))]]);
  });

  it("--header and --trailer turn the usual escapes into bytes, as `--header 'HELLO\\n'` in a shell expects", async () => {
    const data = randomBytes(5000);
    const path = file('escapes.bin', data);
    const out = join(scratch, 'escapes.out');
    const { receiver, port } = await startReceiver(['--out', out]);
    // As a shell passes them inside single quotes: backslashes and all.
    const sender = await run([
      'send', path, `127.0.0.1:${port}`,
      '--header', 'HELLO\\n', '--header', 'tab\\there\\r\\n',
      '--trailer', '\\x00\\xFF\\0 back\\\\slash ✓\\n',
    ]);
    expect(sender).toMatchObject({ code: 0, stderr: '' });
    const expected = Buffer.concat([
      Buffer.from('HELLO\ntab\there\r\n'),
      data,
      Buffer.from([0x00, 0xff, 0x00]),
      Buffer.from(' back\\slash ✓\n'),
    ]);
    expect(SENT.exec(sender.stdout)?.slice(1)).toEqual([String(expected.length), expect.any(String), sha256(expected)]);
    expect((await receiver.exited).code).toBe(0);
    expect(readFileSync(out).equals(expected)).toBe(true);
  });

  it('a sender interrupted mid-transfer says how far it got and exits 130', async () => {
    const path = file('interrupted.bin', randomBytes(32 << 20));
    let first!: () => void;
    const gotData = new Promise<void>((resolve) => (first = resolve));
    // A receiver that reads a little, then stops reading.
    const port = await listen((socket) => socket.once('data', () => (socket.pause(), first())));
    const sender = zerocopy(['send', path, `127.0.0.1:${port}`]);
    await gotData;
    await new Promise((resolve) => setTimeout(resolve, 200));
    sender.proc.kill('SIGINT');
    const result = await sender.exited;
    expect(result).toMatchObject({ code: 130, stdout: '' });
    expect(result.stderr).toMatch(/^zerocopy: interrupted after \d+ bytes\n$/);
  });
});

describe('failures print "zerocopy: CODE: message" and exit 1', () => {
  it('ECONNREFUSED, ENOENT, ERR_FILE_TRUNCATED, EISDIR', async () => {
    const path = file('small.bin', randomBytes(1000));
    const port = await closedPort();
    const cases: [string[], string][] = [
      [['send', path, `127.0.0.1:${port}`], 'ECONNREFUSED'],
      [['send', join(scratch, 'missing.bin'), '127.0.0.1:9'], 'ENOENT'],
      [['send', path, '127.0.0.1:9', '--offset', '900', '--count', '101'], 'ERR_FILE_TRUNCATED'],
      [['send', scratch, '127.0.0.1:9'], 'EISDIR'],
      [['recv', '0', '--out', join(scratch, 'no', 'such', 'dir')], 'ENOENT'],
      [['serve', join(scratch, 'missing-dir'), '--port', '0'], 'ENOENT'],
    ];
    const runs = await Promise.all(cases.map(([args]) => run(args)));
    runs.forEach((result, i) => {
      const [args, code] = cases[i];
      expect({ args, code: result.code, stdout: result.stdout }).toEqual({ args, code: 1, stdout: '' });
      expect(result.stderr).toMatch(new RegExp(`^zerocopy: ${code}: [^\\n]+\\n$`));
    });
  });
});

describe('zerocopy serve', () => {
  it('serves a folder on a free port, answers 404 for what is not there, and exits 0 on SIGINT', async () => {
    const dir = join(scratch, 'www');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    const data = randomBytes(300_000);
    writeFileSync(join(dir, 'sub', 'data.bin'), data);
    const server = zerocopy(['serve', dir, '--port', '0']);
    const [, url] = await server.waitFor('stdout', /^serving \S+ at (http:\/\/127\.0\.0\.1:\d+\/)\n/);
    expect(server.stdout).toBe(`serving ${dir} at ${url}\n`);

    const found = await fetch(`${url}sub/data.bin`);
    expect(found.status).toBe(200);
    expect(Buffer.from(await found.arrayBuffer()).equals(data)).toBe(true);
    const missing = await fetch(`${url}sub/nothing.bin`);
    expect(missing.status).toBe(404);
    await missing.arrayBuffer();

    // fetch keeps its connection open: the server closes it to stop.
    server.proc.kill('SIGINT');
    expect(await server.exited).toMatchObject({ code: 0, signal: null, stderr: '' });
  });
});

describe('zerocopy bench', () => {
  /** A copy of the package (bin, dist, package.json), with or without a bench/run.js. */
  function packageCopy(name: string, runJs?: string): string {
    const dir = join(scratch, name);
    mkdirSync(dir);
    cpSync(join(root, 'bin'), join(dir, 'bin'), { recursive: true });
    cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'zerocopy', version: '0.0.0-test' }));
    if (runJs) {
      mkdirSync(join(dir, 'bench'));
      writeFileSync(join(dir, 'bench', 'run.js'), runJs);
    }
    return join(dir, 'bin', 'zerocopy.js');
  }

  it('runs node bench/run.js with the other arguments and exits with its status', async () => {
    const withBench = packageCopy(
      'with-bench',
      `console.log(JSON.stringify(process.argv.slice(2))); console.error('to stderr'); process.exit(process.argv.includes('--help') ? 0 : 3);`,
    );
    const result = await run(['bench', '--size', '1M', 'x y'], { bin: withBench });
    expect(result).toEqual({ code: 3, signal: null, stdout: '["--size","1M","x y"]\n', stderr: 'to stderr\n' });
    const help = await run(['bench', '--help'], { bin: withBench });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: zerocopy bench');
    expect(help.stdout).toContain('["--help"]');
  });

  it('says clearly when bench/run.js is missing', async () => {
    const withoutBench = packageCopy('without-bench');
    const result = await run(['bench'], { bin: withoutBench });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^zerocopy: ENOENT: the benchmarks are not installed: \S+bench\/run\.js is missing; run them from a clone of zerocopy: npm install && npm run bench\n$/);
    const help = await run(['bench', '--help'], { bin: withoutBench });
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toContain('usage: zerocopy bench');
  });

  /**
   * node_modules/zerocopy in a project, as npm installs it: the folders
   * package.json's `files` ships (bench/ without its results), this
   * checkout's addon, and the runtime dependencies beside it, none of the
   * development ones (no vega, no send, no fastify).
   */
  function installedPackage(): { project: string; bin: string } {
    const project = join(scratch, 'project');
    const installed = join(project, 'node_modules', 'zerocopy');
    mkdirSync(installed, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    for (const entry of ['bin', 'bench', 'dist', 'package.json']) {
      expect(manifest.files.includes(entry) || entry === 'package.json', `package.json files ships ${entry}`).toBe(true);
      cpSync(join(root, entry), join(installed, entry), { recursive: true, filter: (from) => !from.startsWith(join(root, 'bench', 'results')) });
    }
    symlinkSync(join(root, 'build'), join(installed, 'build'));
    const runtime = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8' }).stdout.trim().split('\n');
    for (const dir of runtime.filter((d) => d.startsWith(join(root, 'node_modules') + '/'))) {
      const name = dir.slice(join(root, 'node_modules').length + 1);
      mkdirSync(join(project, 'node_modules', name, '..'), { recursive: true });
      symlinkSync(dir, join(project, 'node_modules', name));
    }
    return { project, bin: join(installed, 'bin', 'zerocopy.js') };
  }

  it('runs from an installed package: compiles its C helpers on first use, writes its results in the current folder, and says what it lacks', async () => {
    const { project, bin: installedBin } = installedPackage();
    const result = await run(['bench', '--only', 'tcp', '--size', '4M', '--rounds', '1', '--no-install'], { bin: installedBin, cwd: project });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^zerocopy bench: results go to \.\/zerocopy-bench\/ \(--out DIR for another folder\)$/m);
    for (const backend of capabilities().backends) expect(result.stdout).toMatch(new RegExp(`^  sendFile ${backend} .* ok$`, 'm'));
    expect(result.stdout).toMatch(/^  C sendfile\(2\) loop .* ok$/m);
    expect(result.stdout).toMatch(/^wrote zerocopy-bench\/latest\.json; no chart: it needs vega and vega-lite \(npm install vega vega-lite\)$/m);
    const results = JSON.parse(readFileSync(join(project, 'zerocopy-bench', 'latest.json'), 'utf8'));
    expect(results.tcp.rows.every((row: { ok: boolean }) => row.ok)).toBe(true);
    // The helpers were built inside the installed package, not taken from this checkout.
    for (const helper of ['sink', 'sendfile_loop']) expect(existsSync(join(project, 'node_modules', 'zerocopy', '.bench', 'bin', helper)), helper).toBe(true);
  });
});

describe('progress on a terminal', () => {
  // A line redrawn with \r and cleared to its end, then gone before the result.
  const PROGRESS = /\r[^\r\n]*\x1b\[K/;

  /** A receiver that lets the sender fill the socket buffers, then reads everything after `ms`. */
  const stallingReceiver = (ms: number) =>
    listen((socket) => {
      socket.pause();
      setTimeout(() => socket.resume(), ms);
    });

  /** A sender that sends 1 MiB, waits `ms`, then sends 1 MiB more and ends. */
  const stallingSender = (port: number, ms: number) =>
    new Promise<void>((resolve, reject) => {
      const client = connect(port, '127.0.0.1', () => {
        client.write(Buffer.alloc(1 << 20, 1));
        setTimeout(() => client.end(Buffer.alloc(1 << 20, 2)), ms);
      });
      client.on('error', reject);
      client.on('close', () => resolve());
    });

  it.skipIf(!hasScript)('send shows bytes, rate and time left when stderr is a terminal, and nothing when it is not', async () => {
    const data = randomBytes(32 << 20);
    const path = file('slow-send.bin', data);
    const [ttyPort, pipePort] = await Promise.all([stallingReceiver(1600), stallingReceiver(1600)]);
    const onTerminal = zerocopyOnTerminal(['send', path, `127.0.0.1:${ttyPort}`]);
    const onPipes = zerocopy(['send', path, `127.0.0.1:${pipePort}`]);
    const [tty, pipes] = await Promise.all([onTerminal.exited, onPipes.exited]);

    expect(tty.code).toBe(0);
    expect(tty.stdout).toMatch(PROGRESS);
    // Linux says how far sendfile has got through /proc/self/io; elsewhere only the time is known.
    if (existsSync('/proc/self/io')) expect(tty.stdout).toMatch(/\r[\d.]+ MB of 33\.6 MB \(\d+%\) +[\d.]+ [kMG]?B\/s +\d+:\d\d left\x1b\[K/);
    expect(tty.stdout).toMatch(new RegExp(`\\r\\x1b\\[Ksent ${data.length} bytes .* sha256 ${sha256(data)}\\r?\\n`));

    expect(pipes).toMatchObject({ code: 0, stderr: '' });
    expect(pipes.stdout).toMatch(SENT);
  });

  it.skipIf(!hasScript)('recv shows bytes and rate when stderr is a terminal, and nothing when it is not', async () => {
    const onTerminal = zerocopyOnTerminal(['recv', '0', '--host', '127.0.0.1']);
    const { receiver: onPipes, port: pipePort } = await startReceiver();
    const [, ttyPort] = await onTerminal.waitFor('stdout', /listening on 127\.0\.0\.1:(\d+)/);
    await Promise.all([stallingSender(Number(ttyPort), 1600), stallingSender(pipePort, 1600)]);
    const [tty, pipes] = await Promise.all([onTerminal.exited, onPipes.exited]);

    const expected = sha256(Buffer.concat([Buffer.alloc(1 << 20, 1), Buffer.alloc(1 << 20, 2)]));
    expect(tty.code).toBe(0);
    expect(tty.stdout).toMatch(/\r1\.0 MB +[\d.]+ [kMG]?B\/s +\d+:\d\d elapsed\x1b\[K/);
    expect(tty.stdout).toMatch(new RegExp(`\\r\\x1b\\[Kreceived ${2 << 20} bytes .* sha256 ${expected}\\r?\\n`));

    expect(pipes.code).toBe(0);
    expect(pipes.stderr).toMatch(/^listening on [^\n]+\n$/);
    expect([...pipes.stdout.matchAll(RECEIVED)].map((m) => m[2])).toEqual([expected]);
  });
});
