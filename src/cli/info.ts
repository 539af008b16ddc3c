// `zerocopy info`: capabilities() for a person (a table of what this machine
// and process can do, and why not) or, with --json, for a script.
import { capabilities } from '../index.js';
import { parse, wantsHelp } from './args.js';
import { print } from './output.js';
import { buildCommand, version } from './package.js';

export const infoHelp = `usage: zerocopy info [--json]

Prints what capabilities() says about this machine and this process: whether
the native addon loaded (and why not), the backends best first, whether the
best one is zero-copy, how headers and trailers travel, and the largest chunk
one system call moves. Without the addon, it prints the command that builds it.

Options:
  --json       the capabilities() object as JSON
  -h, --help   this help
`;

export async function infoCommand(args: string[]): Promise<number> {
  if (wantsHelp(args)) return print(infoHelp);
  const { values } = parse('info', args, { json: { type: 'boolean' } }, { min: 0, max: 0, names: [] });
  const caps = capabilities();
  if (values.json) return print(JSON.stringify(caps, null, 2));
  const yes = (value: boolean) => (value ? 'yes' : 'no');
  const rows: [string, string][] = [
    ['native addon', caps.native ? 'loaded' : `not loaded: ${caps.loadError?.split('\n')[0] ?? 'unknown reason'}`],
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
    ['waiter', caps.native ? `${caps.waiter}: how the driver thread waits for sockets and pipes` : 'none (no addon)'],
  ];
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  const lines = [`zerocopy ${version()} on ${caps.platform} ${caps.arch}, Node.js ${process.version}`, ...rows.map(([name, value]) => name.padEnd(width) + value)];
  if (!caps.native && !process.env.ZEROCOPY_DISABLE_NATIVE && caps.platform !== 'win32') {
    lines.push('', 'To build the addon here (CMake 3.15+ and a C/C++ compiler on PATH), in your project:', `  ${buildCommand()}`);
  }
  return print(lines.join('\n'));
}
