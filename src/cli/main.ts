// The `zerocopy` command: argument parsing and printing around the library,
// which does the work. `bin/zerocopy.js` calls main(); this file picks the
// command, and each command lives in its own file beside it:
//
//   zerocopy serve [DIR] [--port N] [--host H] [--quiet] [--cors]
//                  [--max-age AGE] [--immutable] [--precompressed]
//                  [--extensions LIST] [--single] [--listing]
//                  [--tls-cert FILE --tls-key FILE] [--workers N]     serve.ts, workers.ts
//   zerocopy send FILE HOST:PORT [--offset N] [--count N] [--header TEXT]
//                 [--trailer TEXT] [--backend NAME]                     send.ts
//   zerocopy recv PORT [--out FILE] [--keep] [--host H]                 recv.ts
//   zerocopy relay LISTEN TARGET [--max-connections N]
//                  [--idle-timeout S] [--quiet]                        relay.ts
//   zerocopy info [--json]                                              info.ts
//   zerocopy bench [ARGS...]                                            bench.ts
//   zerocopy build [--force]                                            build.ts
//
// Exit status: 0 success, 1 failure (`zerocopy: CODE: message`), 2 usage
// error (one line, `zerocopy: message (see zerocopy CMD --help)`), 128 + the
// signal's number when a transfer is interrupted.
import { UsageError } from './args.js';
import { benchCommand, benchHelp } from './bench.js';
import { buildCommand, buildHelp } from './build.js';
import { describeError } from './errors.js';
import { infoCommand, infoHelp } from './info.js';
import { print } from './output.js';
import { version } from './package.js';
import { recvCommand, recvHelp } from './recv.js';
import { relayCommand, relayHelp } from './relay.js';
import { sendCommand, sendHelp } from './send.js';
import { serveCommand, serveHelp } from './serve.js';

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

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError('missing command');
  if (command === '--help' || command === '-h') return print(HELP.main);
  if (command === '--version' || command === '-v' || command === '-V') return print(version());
  if (command === 'help') {
    if (rest.length === 0) return print(HELP.main);
    if (rest.length > 1 || !Object.hasOwn(HELP, rest[0]) || rest[0] === 'main') throw new UsageError(`no help for '${rest.join(' ')}'`);
    return print(HELP[rest[0] as keyof typeof HELP]);
  }
  switch (command) {
    case 'serve':
      return serveCommand(rest);
    case 'send':
      return sendCommand(rest);
    case 'recv':
      return recvCommand(rest);
    case 'relay':
      return relayCommand(rest);
    case 'info':
      return infoCommand(rest);
    case 'bench':
      return benchCommand(rest);
    case 'build':
      return buildCommand(rest);
    default:
      if (command.startsWith('-')) throw new UsageError(`unknown option '${command}'`);
      throw new UsageError(`unknown command '${command}'`);
  }
}

const HELP = {
  main: `usage: zerocopy <command> [options]

Send files without copying them through JavaScript (sendfile(2) and friends).

Commands:
  serve [DIR]            serve the files under DIR (default: .) over HTTP
  send FILE HOST:PORT    send a file, or a range of it, to a receiver
  recv PORT              receive on a TCP port; report bytes, time, rate, checksum
  relay LISTEN TARGET    a TCP proxy: relay every connection to TARGET
  info                   what this machine can do (capabilities())
  bench [ARGS...]        run the benchmarks (bench/run.js)
  build [--force]        build the native addon from source (where no prebuild loads)

zerocopy <command> --help describes a command; zerocopy --version (-v) prints the version.

Exit status: 0 success, 1 failure, 2 usage error, 128+N interrupted by signal N.
`,
  serve: serveHelp,
  send: sendHelp,
  recv: recvHelp,
  relay: relayHelp,
  info: infoHelp,
  bench: benchHelp,
  build: buildHelp,
};
