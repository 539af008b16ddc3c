// Type tests, checked by `npm run typecheck` (before every npm test) and
// never run: a backend name is one of the names the package has, so that a
// misspelt one fails to compile instead of failing at run time. The line
// after each expect-error directive must fail to compile, or the check fails.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { capabilities, sendFile, serveFile, serveStatic, type Backend, type SendFileOptions } from '../../dist/cjs/index.js';

export async function backendNames(socket: Socket, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const every: Backend[] = ['sendfile', 'sendfilev', 'mmap', 'readwrite', 'stream'];
  await sendFile(socket, 'file', { backend: 'auto' });
  await sendFile(socket, 'file', { backend: every[0] });
  await sendFile(socket, 'file', { backend: capabilities().backends[0] });

  // @ts-expect-error: not a backend name
  await sendFile(socket, 'file', { backend: 'sendfil' });
  // @ts-expect-error: any string is not a backend name
  const options: SendFileOptions = { backend: String('mmap') };
  // @ts-expect-error: nor in serveFile's options
  await serveFile(req, res, 'file', { backend: 'splice' });
  // @ts-expect-error: nor in serveStatic's
  serveStatic('.', { backend: 'Sendfile' });

  // What a transfer reports is a backend name too.
  const { backend } = await sendFile(socket, 'file', options);
  // @ts-expect-error: so comparing it with another string is a mistake the compiler sees
  if (backend === 'sendfil') throw new Error();
}
