// Failures as the commands make and describe them. A command's own failure
// carries a code, as the library's and Node's errors do, so that every
// failure prints the same way: `zerocopy: CODE: message`, on one line.

/** A failure with a code, as the library's and Node's own errors have. */
export function failure(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/** `CODE: message`, on one line, without the code twice (Node's system errors start their message with it). */
export function describeError(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown; name?: unknown; errors?: unknown; bytesSent?: unknown };
  let message = typeof e?.message === 'string' ? e.message : String(error);
  if (!message && Array.isArray(e?.errors)) message = e.errors.map((x: { message?: string }) => x?.message ?? String(x)).join('; ');
  message = message.split('\n')[0];
  const code = typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' ? e.name : 'Error';
  if (message.startsWith(`${code}: `)) message = message.slice(code.length + 2);
  const sent = typeof e?.bytesSent === 'number' && e.bytesSent > 0 ? ` (after ${e.bytesSent} bytes)` : '';
  return `${code}: ${message}${sent}`;
}
