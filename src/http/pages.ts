// The small HTML pages serveStatic writes itself: the body of a redirect to
// a directory's URL, and the frame of a directory listing. Every name in
// them is escaped; they go out with `Content-Security-Policy: default-src
// 'none'`, so that nothing in them could run even if it got through.
export const HTML_TYPE = 'text/html; charset=utf-8';

/** Headers every page carries: no script, no style, no sniffing another type. */
export const PAGE_HEADERS = { 'Content-Security-Policy': "default-src 'none'" };

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** A complete, minimal HTML document; `body` must already be escaped. */
export function htmlDocument(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${escapeHtml(title)}</title>\n</head>\n<body>\n${body}\n</body>\n</html>\n`;
}

/** The body of a 301 to `location` (already percent-encoded): a link for clients that do not follow it. */
export function redirectPage(location: string): string {
  const href = escapeHtml(location);
  return htmlDocument('Moved Permanently', `<p>Redirecting to <a href="${href}">${href}</a></p>`);
}
