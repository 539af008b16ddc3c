// Mutation testing by hand-written mutants (npm run test:mutation): each
// mutant below is one small bug in the transfer loop, a backend, the addon,
// the driver, the socket glue, sendFile or serving. One at a time, it is
// applied, the code rebuilt (the addon into build-mutant/, which the tests
// load through ZEROCOPY_ADDON, and into build-mutant-freebsd/ for the test
// that holds the driver's steps on that shim; TypeScript into dist/), and
// the tests that should notice it run. A mutant is caught when they fail;
// one whose tests hang (killed after 15 minutes) is not. The score is
// caught / mutants run; a mutant marked `equivalent` (with why no caller can
// tell) is neither run nor counted. Every survivor names a missing test, and
// each catch names the test that failed first: a catch by an unrelated test
// is a weak one.
//
// Mutants come in rounds: a round is written at one time, aimed at what the
// suite did not sample yet, and its score is reported on its own (a round
// whose survivors got their tests scores 100% from then on, and says little
// about the next bug). Round 1 is the first set and the survivors of issue
// 20's hand-made sample; round 2 aims at accounting across the in-tick
// attempt and the driver, per-socket-type paths and optional headers'
// fallbacks; round 3 at receiveFile and relay (the flow loop, the splice
// and read/write movers, the driver's arming per descriptor, taking a
// socket or a request body from Node).
//
//   node scripts/mutate.js [--round N] [--list] [regular expression matching mutant names]
//
// --list builds and runs nothing: it prints the mutants chosen, each with its
// round and whether its `find` still occurs exactly once.
//
// Only the `linux` project runs (the shim harness compiles the sources it
// tests itself). The sources are restored after each mutant (or by the next
// run, when one is killed with a mutant in place), and the build it changed
// is rebuilt unmutated before the next one.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const cmakeJs = join(require.resolve('cmake-js/package.json'), '..', 'bin', 'cmake-js');
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const mutantBuild = join(root, 'build-mutant');
const { variants } = require('./build-test-addons.js');

// A test that runs a shimmed build (test/shims: its calls can be held) loads
// the mutant built that way too, named by an environment variable.
const HELD = 'test/held-step.test.ts';
const shimBuild = { test: HELD, variant: 'freebsd', out: join(root, 'build-mutant-freebsd'), env: 'ZEROCOPY_TEST_SHIM_ADDON' };

// Test files by subject: what a mutant of that part must be caught by.
const TRANSFER = ['test/transfer.test.ts', 'test/socket.test.ts', 'test/hostile-inputs.test.ts', 'test/conformance.test.ts', 'test/cork.test.ts'];
const LOOP = ['test/shim-harness.test.ts', ...TRANSFER];
const HTTP = ['test/serve.test.ts', 'test/serve-static.test.ts', 'test/serve-static-features.test.ts', 'test/serve-options.test.ts', 'test/serve-root.test.ts', 'test/http-hostile.test.ts', 'test/properties.test.ts'];
const DRIVER = [...TRANSFER, 'test/wrong-receiver.test.ts', 'test/soak.test.ts', HELD];
const FLOWS = ['test/relay.test.ts', 'test/receive-file.test.ts', 'test/receive-http.test.ts', 'test/conformance.test.ts', 'test/properties.test.ts'];

/**
 * { name, file, find, replace, tests, round?, equivalent? }: `find` must
 * occur exactly once in `file` (keep it short: a long one breaks at the next
 * edit nearby). `round` is 1 unless given. `equivalent` says why the mutant
 * changes nothing a caller can see: it is not run, and not counted.
 */
const MUTANTS = [
  // native/shared/send_loop.c
  { name: 'loop: EAGAIN after the last bytes is "not done"', file: 'native/shared/send_loop.c', find: 'return zc_done(t) ? 0 : EAGAIN;', replace: 'return EAGAIN;', tests: LOOP },
  { name: 'loop: a file call that moves nothing is not end of file', file: 'native/shared/send_loop.c', find: 'if (c.moved == 0 && c.err == 0) return ZC_ETRUNCATED;', replace: '', tests: LOOP },
  { name: 'loop: EINTR ends the transfer', file: 'native/shared/send_loop.c', find: 'if (c.err == EINTR) continue;', replace: '', tests: LOOP },
  { name: 'loop: advance() forgets the file offset', file: 'native/shared/send_loop.c', find: 't->offset += file;', replace: '', tests: LOOP },
  { name: 'loop: empty buffers at the front are kept', file: 'native/shared/send_loop.c', find: 'while (*count > 0 && (*iov)->iov_len == 0) {', replace: 'while (0) {', tests: LOOP },
  { name: 'loop: the budget is ignored', file: 'native/shared/send_loop.c', find: 'if (moved_here >= budget) return EINPROGRESS;', replace: '', tests: LOOP },
  { name: 'loop: a refusal never falls back', file: 'native/shared/send_loop.c', find: 'if (is_refusal(c.err) && t->backend_moved == 0 && t->may_fall_back) {', replace: 'if (0) {', tests: LOOP },
  // native/shared/classify.c
  { name: 'classify: an unconnected socket is accepted', file: 'native/shared/classify.c', find: 'return getpeername(fd, (struct sockaddr *)&peer, &peer_len) == 0 ? 0 : errno;', replace: 'return 0;', tests: TRANSFER },
  { name: 'classify: O_APPEND is not noticed', file: 'native/shared/classify.c', find: '(flags & O_APPEND) ? ZC_OUT_APPEND : ZC_OUT_FILE', replace: 'ZC_OUT_FILE', tests: TRANSFER },
  // native/linux/sendfile_linux.c
  { name: 'linux: EXDEV is not a reason to leave copy_file_range', file: 'native/linux/sendfile_linux.c', find: 'if (errno != EXDEV && errno != EINVAL', replace: 'if (errno != EINVAL', tests: TRANSFER },
  { name: 'linux: the cork is never taken off', file: 'native/linux/sendfile_linux.c', find: 'if (s->uncork) set_cork(t->out_fd, 0);', replace: '', tests: TRANSFER },
  { name: "linux: the caller's cork is taken off too", file: 'native/linux/sendfile_linux.c', find: 'if (corked) return 0;', replace: '', tests: TRANSFER },
  { name: 'linux: headers without MSG_MORE', file: 'native/linux/sendfile_linux.c', find: 'MSG_MORE | MSG_NOSIGNAL', replace: 'MSG_NOSIGNAL', tests: [...TRANSFER, 'test/serve.test.ts'] },
  // native/fallback
  { name: 'mmap: a fault past the new end is EFAULT', file: 'native/fallback/mmap.c', find: 'if (fstat(t->in_fd, &st) != 0 || (uint64_t)st.st_size >= c->offset + len) {', replace: 'if (1) {', tests: TRANSFER },
  { name: 'mmap: nothing written up to the new end', file: 'native/fallback/mmap.c', find: 'n = (uint64_t)st.st_size > c->offset ? write(', replace: 'n = 0 ? write(', tests: TRANSFER },
  { name: 'mmap: a lease taken unasked', file: 'native/fallback/mmap.c', find: 'if (t->lease) s->lease = zc_lease_take(t->in_fd);', replace: 's->lease = zc_lease_take(t->in_fd);', tests: TRANSFER },
  { name: 'mmap: a broken lease goes unnoticed', file: 'native/fallback/mmap.c', find: 'if (lease_broken(t, s)) {', replace: 'if (0) {', tests: TRANSFER },
  { name: 'readwrite: pread at the wrong offset', file: 'native/fallback/readwrite.c', find: '(off_t)c->offset);', replace: '(off_t)c->offset + 1);', tests: TRANSFER },
  // native/node/addon.cc and driver.cc
  { name: 'addon: no shutdown when the socket is destroyed', file: 'native/node/addon.cc', find: '      shutdown(t_.out_fd, SHUT_RDWR);', replace: '', tests: DRIVER },
  { name: 'addon: the input is not duplicated', file: 'native/node/addon.cc', find: 't_.in_fd = DupCloexec(info[1].As<Napi::Number>().Int32Value());', replace: 't_.in_fd = info[1].As<Napi::Number>().Int32Value();', tests: DRIVER },
  {
    name: 'addon: an abort before start is not final',
    file: 'native/node/addon.cc',
    find: 'if (state_ == State::Idle ||',
    replace: 'if (false ||',
    tests: DRIVER,
    equivalent: "unreachable: runNative (send-file.ts), the Transfer's only user, calls start() in the tick it constructs it, and no abort listener can run in between",
  },
  { name: 'addon: the blocking flag is not restored', file: 'native/node/addon.cc', find: 'fcntl(t_.out_fd, F_SETFL, fcntl(t_.out_fd, F_GETFL) & ~O_NONBLOCK);', replace: '', tests: DRIVER },
  { name: 'addon: no inline attempt limit', file: 'native/node/addon.cc', find: 'if (total > kInlineBytes) return false;', replace: '', tests: DRIVER },
  { name: 'driver: aborted during the step is not checked', file: 'native/node/driver.cc', find: '      if (job->aborted) r = ECANCELED;', replace: '', tests: DRIVER },
  { name: 'driver: Stop leaves the descriptor registered', file: 'native/node/driver.cc', find: '  Forget(job);\n  return true;', replace: '  return true;', tests: DRIVER },
  { name: 'driver: a job over budget is not armed again', file: 'native/node/driver.cc', find: '        r = Arm(job, true);', replace: '        r = 0;', tests: DRIVER },
  // src/
  { name: 'net-socket: a destroyed socket still gives its descriptor', file: 'src/net-socket.ts', find: 'if (socket.destroyed) throw closedError(socket, 0);', replace: '', tests: [...DRIVER] },
  { name: 'net-socket: closedError ignores the cause', file: 'src/net-socket.ts', find: "if (cause?.errno && cause.syscall && cause.code !== 'ECANCELED')", replace: "if (cause?.errno && cause.syscall && cause.code !== 'ECANCELED' && bytesSent < 0)", tests: DRIVER },
  { name: 'send-file: a partly sent transfer leaves the socket open', file: 'src/send-file.ts', find: 'if (((error as TransferError).bytesSent ?? 0) > 0) socket.destroy();', replace: '', tests: DRIVER },
  { name: 'send-file: the count is not checked against the size', file: 'src/send-file.ts', find: 'if (plan.offset + count > size) {', replace: 'if (false) {', tests: DRIVER },
  { name: 'send-file: an aborted signal before the turn is ignored', file: 'src/send-file.ts', find: '  if (plan.signal?.aborted) {\n    discard(opened);', replace: '  if (plan.signal?.aborted && plan.offset < 0n) {\n    discard(opened);', tests: DRIVER },
  { name: 'open-file: inputs open without O_NONBLOCK', file: 'src/open-file.ts', find: 'const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0);', replace: 'const OPEN_FLAGS = fsConstants.O_RDONLY;', tests: ['test/hostile-inputs.test.ts'] },
  // src/http
  { name: 'rfc9110: If-Range passes with any date', file: 'src/http/rfc9110.ts', find: 'return date !== undefined && v.lastModified !== undefined && date === parseDate(v.lastModified);', replace: 'return date !== undefined;', tests: HTTP },
  { name: 'rfc9110: If-Match compares weakly', file: 'src/http/rfc9110.ts', find: 'return tags.some((t) => !isWeak(t) && t === current);', replace: 'return tags.some((t) => opaque(t) === opaque(current));', tests: HTTP },
  { name: 'rfc9110: If-Unmodified-Since is ignored', file: 'src/http/rfc9110.ts', find: 'if (modified > ifUnmodifiedSince) return 412;', replace: 'if (modified > ifUnmodifiedSince && false) return 412;', tests: HTTP },
  { name: 'rfc9110: long suffixes are not cut', file: 'src/http/rfc9110.ts', find: 'parseRange(size, clampSuffixes(range, size), { combine: true })', replace: 'parseRange(size, clampSuffixes(range, 0), { combine: true })', tests: HTTP },
  { name: 'rfc9110: more ranges than maxRanges are served', file: 'src/http/rfc9110.ts', find: ' || parsed.length > maxRanges', replace: '', tests: HTTP },
  { name: 'root: a ".." segment is kept, climbing out of the root', file: 'src/http/root.ts', find: "    if (segment === '..') {", replace: "    if (segment === '..' && segments.length < 0) {", tests: HTTP },
  { name: 'root: encoded slashes pass', file: 'src/http/root.ts', find: '  if (/%2f|%5c|\\\\/i.test(pathname)) return undefined;', replace: '', tests: HTTP },
  { name: 'send-now: EFAULT from a mapping is not a truncation', file: 'src/send-now.ts', find: 'if (mapped && result === EFAULT) result', replace: 'if (mapped && result === EFAULT && sent < 0) result', tests: HTTP },
  { name: 'addon: sendNow drops the body it was given', file: 'native/node/addon.cc', find: '    t.nheaders++;\n', replace: '\n', tests: HTTP },
  { name: 'raw: a range of a mapped file is taken from its start', file: 'src/http/raw.ts', find: 'mapped.subarray(part.start, part.end + 1)', replace: 'mapped.subarray(0, count)', tests: HTTP },
  { name: 'raw: a failed raw response keeps the connection', file: 'src/http/raw.ts', find: '  // Node believes the head is out: whatever went, this connection can\n  // carry nothing more that a client could frame.\n  abandon(res);', replace: '', tests: HTTP },
  { name: 'addon: sendNow reads a head string as UTF-8', file: 'native/node/addon.cc', find: 'napi_get_value_string_latin1(env, info[5], head, sizeof head, &length);', replace: 'napi_get_value_string_utf8(env, info[5], head, sizeof head, &length);', tests: HTTP },
  { name: 'send-now: a head longer than headBytes goes as a string', file: 'src/send-now.ts', find: "head.length > nativeCaps!.headBytes", replace: 'head.length < 0', tests: HTTP },
  { name: 'linux: a large file goes uncorked', file: 'native/linux/sendfile_linux.c', find: '(t->ntrailers == 0 && t->remaining < CORK_FROM)', replace: 't->ntrailers == 0', tests: TRANSFER },
  { name: 'respond: fields that waited for takeHead are lost on another writer', file: 'src/http/respond.ts', find: '  if (p.fields) setFieldsOn(res, p.fields);\n', replace: '', tests: HTTP },
  { name: "url-map: a mounted request's URL mapping is kept for others", file: 'src/http/url-map.ts', find: '    if (target.original !== target.pathname) return this.mapUrl(target);\n', replace: '', tests: HTTP },
  // Issue 20's sample of hand-made mutants: its survivors and weak catches.
  { name: 'send-now: rest() counts header bytes as file bytes', file: 'src/send-now.ts', find: 'Math.max(sent - headers, 0)', replace: 'Math.max(sent, 0)', tests: DRIVER },
  { name: 'addon: an abort shuts down TCP sockets only', file: 'native/node/addon.cc', find: 't_.out_kind == ZC_OUT_TCP || t_.out_kind == ZC_OUT_SOCKET', replace: 't_.out_kind == ZC_OUT_TCP', tests: DRIVER },
  { name: 'driver: a finished transfer stays registered in the waiter', file: 'native/node/driver.cc', find: '      Forget(job);\n      EndJob(job);', replace: '      EndJob(job);', tests: DRIVER },
  { name: 'rfc9110: If-Unmodified-Since compared with the unrounded mtime', file: 'src/http/rfc9110.ts', find: '?? Math.floor(v.mtimeMs / 1000) * 1000', replace: '?? v.mtimeMs', tests: HTTP },
  { name: 'root: the dotfiles check takes `.` segments of a relative path for dotfiles', file: 'src/http/root.ts', find: 's.length > 1 && hidden(s)', replace: 'hidden(s)', tests: HTTP },
  { name: 'addon: a non-blocking output is made blocking at the end', file: 'native/node/addon.cc', find: '!(flags & O_NONBLOCK) &&', replace: '', tests: DRIVER },
  { name: 'respond: the plain-whole fast path answers a status set before', file: 'src/http/respond.ts', find: '    res.statusCode === 200 &&\n', replace: '', tests: HTTP },
  { name: 'addon: a named backend falls back too', file: 'native/node/addon.cc', find: 't_.may_fall_back = name == "auto";', replace: 't_.may_fall_back = 1;', tests: TRANSFER },

  // Round 2: accounting across the in-tick attempt and the driver.
  { round: 2, name: 'send-now: rest() skips as many trailer bytes as there are header bytes', file: 'src/send-now.ts', find: 'sent - headers - Number(range.count)', replace: 'sent - Number(range.count)', tests: DRIVER },
  { round: 2, name: 'send-now: rest() sends the whole head again after part of it went', file: 'src/send-now.ts', find: 'plan.headers!.subarray(sent)', replace: 'plan.headers!', tests: DRIVER },
  { round: 2, name: "send-file: the driver's part of a small transfer counts from 0", file: 'src/send-file.ts', find: "left.plan, 'auto', now.sent)", replace: "left.plan, 'auto')", tests: DRIVER },
  { round: 2, name: "raw: a response's result leaves out what went at once", file: 'src/http/raw.ts', find: 'bytesSent: sent + r.bytesSent', replace: 'bytesSent: r.bytesSent', tests: HTTP },
  { round: 2, name: "raw: a response's rest starts with the whole head", file: 'src/http/raw.ts', find: "{ kind: 'fd', fd }, left.plan)", replace: "{ kind: 'fd', fd }, { ...left.plan, headers: plan.headers })", tests: HTTP },
  { round: 2, name: "send-file: an abort by onProgress on sendNow's report goes unseen", file: 'src/send-file.ts', find: 'if (plan.signal?.aborted) throw new AbortError(plan.signal.reason, now.sent);', replace: '', tests: DRIVER },
  { round: 2, name: "send-file: a socket destroyed by onProgress on sendNow's report hands on its descriptor", file: 'src/send-file.ts', find: 'if (output.socket.destroyed) throw closedError(output.socket, now.sent);', replace: '', tests: DRIVER },
  { round: 2, name: "addon: a transfer done in a Transfer's own attempt reports no progress", file: 'native/node/addon.cc', find: 'Progress(t_.sent);\n    Finish(r);', replace: 'Finish(r);', tests: DRIVER },
  { round: 2, name: "loop: a call's trailer bytes are counted as file bytes", file: 'native/shared/send_loop.c', find: 'uint64_t file = n < t->remaining ? n : t->remaining;', replace: 'uint64_t file = n;', tests: LOOP },
  // Round 2: paths per kind of output (TCP, Unix-domain, pipe, TLS, devices).
  { round: 2, name: 'classify: a Unix-domain socket is taken for TCP', file: 'native/shared/classify.c', find: 'addr.ss_family == AF_INET || addr.ss_family == AF_INET6', replace: 'addr.ss_family != AF_UNSPEC', tests: DRIVER },
  { round: 2, name: 'linux: every stream socket is corked for trailers', file: 'native/linux/sendfile_linux.c', find: 't->out_kind != ZC_OUT_TCP || (t->ntrailers', replace: '!(ZC_OUTPUT(t->out_kind) & ZC_OUTPUT_SOCKETS) || (t->ntrailers', tests: DRIVER },
  { round: 2, name: 'net-socket: any socket but TLS counts as TCP, so sendNow is tried on it', file: 'src/net-socket.ts', find: "const family = socket.remoteFamily;\n  return family === 'IPv4' || family === 'IPv6';", replace: 'return !isTls(socket);', tests: DRIVER },
  { round: 2, name: 'addon: a blocking output is left blocking for the driver', file: 'native/node/addon.cc', find: 'F_SETFL, flags | O_NONBLOCK) == 0)', replace: 'F_SETFL, flags) == 0)', tests: DRIVER },
  { round: 2, name: 'driver: an output that cannot be watched (/dev/null) fails', file: 'native/node/driver.cc', find: 'if (err == EPERM) now = true;', replace: 'if (err == EPERM) return err;', tests: DRIVER },
  { round: 2, name: 'net-socket: a TLS socket hands out its raw descriptor', file: 'src/net-socket.ts', find: 'encrypted) return undefined;', replace: 'encrypted && false) return undefined;', tests: DRIVER },
  // Round 2: optional headers and what stands in for them.
  { round: 2, name: 'rfc9110: If-None-Match on another method with no ETag throws', file: 'src/http/rfc9110.ts', find: 'current !== undefined && tags.some((t) => opaque(t) === opaque(current))', replace: 'tags.some((t) => opaque(t) === opaque(current!))', tests: HTTP },
  { round: 2, name: "respond: a response sending no ETag is validated by the file's", file: 'src/http/respond.ts', find: "etag: stringHeader(res, 'etag')", replace: "etag: stringHeader(res, 'etag') ?? etagFor(rep, 'strong')", tests: HTTP },
  { round: 2, name: "respond: a response sending no Last-Modified is validated by the file's mtime", file: 'src/http/respond.ts', find: "lastModified: stringHeader(res, 'last-modified')", replace: "lastModified: stringHeader(res, 'last-modified') ?? rep.stat.mtime.toUTCString()", tests: HTTP },
  { round: 2, name: 'respond: the plain-whole fast path leaves out Vary for a file with compressed siblings', file: 'src/http/respond.ts', find: '    !rep.varyEncoding &&\n', replace: '', tests: HTTP },
  { round: 2, name: "respond: a caller's Content-Length survives the prepared fields", file: 'src/http/respond.ts', find: 'String(rep.stat.size), true]', replace: 'String(rep.stat.size)]', tests: HTTP },
  // Round 3: receiveFile and relay.
  { round: 3, name: "flow loop: Node's bytes are not written first", file: 'native/shared/relay_loop.c', find: 'if (f->npending > 0) {\n      /* Node', replace: 'if (0) {\n      /* Node', tests: FLOWS },
  { round: 3, name: 'flow loop: an end of stream is not passed on', file: 'native/shared/relay_loop.c', find: 'if (shutdown(f->out_fd, SHUT_WR) != 0 && errno != ENOTCONN) return errno;', replace: '', tests: FLOWS },
  { round: 3, name: 'flow loop: count is ignored', file: 'native/shared/relay_loop.c', find: 'if (f->left != ZC_UNLIMITED) f->left -= m->read;', replace: '', tests: FLOWS },
  { round: 3, name: 'flow loop: an end on a socket without allowHalfOpen leaves the other direction open', file: 'native/shared/relay_loop.c', find: '        zc_flow_stop(other);', replace: '', tests: FLOWS },
  { round: 3, name: 'flow loop: a stopped flow waits for a report before passing its end on', file: 'native/shared/relay_loop.c', find: 'it has an end to pass on. */\n  f->wait_in = f->wait_out = 0;', replace: 'it has an end to pass on. */', tests: FLOWS },
  { round: 3, name: 'splice: a pipe still holding bytes goes back to the pool', file: 'native/linux/splice_linux.c', find: 'give_back(s, f->held == 0);', replace: 'give_back(s, 1);', tests: FLOWS },
  { round: 3, name: 'splice: a file is written at its own position, not at the offset', file: 'native/linux/splice_linux.c', find: 'f->out_kind == ZC_OUT_FILE ? &off : NULL', replace: 'NULL', tests: FLOWS },
  { round: 3, name: 'readwrite mover: a short write is resumed from the start of the buffer', file: 'native/fallback/readwrite_flow.c', find: 's->start += (size_t)m->written;', replace: '', tests: FLOWS },
  { round: 3, name: 'driver: a descriptor reported is taken for still armed', file: 'native/node/driver.cc', find: 'if (job->fired & (1u << i)) job->armed[i] = 0;', replace: '', tests: FLOWS },
  { round: 3, name: 'driver: a descriptor armed for other events is not armed again', file: 'native/node/driver.cc', find: 'if (job->armed[i] == events[i]) {', replace: 'if (job->armed[i] != 0) {', tests: FLOWS },
  { round: 3, name: 'relay: the bytes Node had read from a socket are dropped', file: 'src/relay.ts', find: 'return chunks.length === 0 ? null : Buffer.concat(chunks);', replace: 'return null;', tests: FLOWS },
  { round: 3, name: 'receiveFile: bytes Node had read past count are not given back', file: 'src/receive-file.ts', find: 'if (rest) socket.unshift(rest);', replace: '', tests: FLOWS },
  { round: 3, name: 'net-socket: a taken read side still starts reading when Node asks', file: 'src/net-socket.ts', find: 'handle.readStart = () => 0;', replace: '', tests: FLOWS },
  { round: 3, name: "request body: the parser is not told of the body's bytes read past it", file: 'src/http/request-body.ts', find: 'if (bytes === 0 || socket.destroyed', replace: 'if (bytes >= 0 || socket.destroyed', tests: FLOWS },
  { round: 3, name: "request body: the request's _consuming is not given back", file: 'src/http/request-body.ts', find: '(request as { _consuming?: boolean })._consuming = consuming;', replace: '(request as { _consuming?: boolean })._consuming = consuming || true;', tests: FLOWS },
];

function cmake(out, flags = []) {
  return spawnSync(process.execPath, [cmakeJs, 'compile', '--out', out, ...flags], { cwd: root, encoding: 'utf8' }).status === 0;
}

/** Builds what `mutant`'s tests load (with no mutant: the unmutated builds). */
function build(file, tests = []) {
  if (file.startsWith('native/')) {
    return cmake(mutantBuild) && (!tests.includes(shimBuild.test) || cmake(shimBuild.out, variants[shimBuild.variant]));
  }
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-ts.js')], { cwd: root, encoding: 'utf8' });
  return r.status === 0;
}

const timeoutMinutes = 15;

function runTests(mutant) {
  // Native mutants: the tests load the mutant addon. (The shim harness
  // compiles the sources it tests itself, so it sees the mutant too.) The
  // shimmed build is always this run's own, mutated or not.
  const env = { ...process.env, [shimBuild.env]: join(shimBuild.out, 'Release', 'zerocopy.node') };
  if (mutant.file.startsWith('native/')) env.ZEROCOPY_ADDON = join(mutantBuild, 'Release', 'zerocopy.node');
  const r = spawnSync(process.execPath, [vitest, 'run', '--bail=1', '--project', 'linux', ...mutant.tests], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: timeoutMinutes * 60_000,
    maxBuffer: 64 << 20,
  });
  const output = (r.stdout + r.stderr).replace(/\x1b\[[0-9;]*m/g, '');
  // The test that caught it, so that a catch by an unrelated test (or by a hang: killed) shows.
  const by = /FAIL\s+(?:linux\s+)?(test\/\S+ > .*)/.exec(output)?.[1];
  const failed = /(\d+) failed/.exec(output)?.[0];
  // Killed at the time limit: the tests hung, which a test must never do. Not a catch.
  if (r.signal) return { status: 'hung', detail: `killed (${r.signal}) after ${timeoutMinutes} minutes` };
  return { status: r.status === 0 ? 'survived' : 'caught', detail: failed ? `${failed}${by ? `: ${by}` : ''}` : `exit ${r.status}` };
}

function parseArgs(argv) {
  let round;
  let filter;
  let list = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--round') round = Number(argv[++i]);
    else if (argv[i].startsWith('--round=')) round = Number(argv[i].slice('--round='.length));
    else if (argv[i] === '--list') list = true;
    else filter = argv[i];
  }
  if (round !== undefined && !MUTANTS.some((m) => (m.round ?? 1) === round)) throw new Error(`mutate: no mutants in round ${round}`);
  return { round, filter, list };
}

// The source a mutant is applied to, while it is: see undoLeftMutant.
const inPlace = join(mutantBuild, 'in-place.json');

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/** Puts back a source that a killed run left mutated; refuses to run beside a run still going. */
function undoLeftMutant() {
  if (!existsSync(inPlace)) return;
  const { file, original, pid } = JSON.parse(readFileSync(inPlace, 'utf8'));
  if (alive(pid)) throw new Error(`mutate: another run (pid ${pid}) has a mutant in ${file} now`);
  writeFileSync(join(root, file), original);
  rmSync(inPlace);
  console.log(`mutate: ${file} was left mutated by a run that was killed; restored`);
}

/** How many times a mutant's `find` occurs in its file now. */
const occurrences = (mutant) => readFileSync(join(root, mutant.file), 'utf8').split(mutant.find).length - 1;

function main() {
  const { round, filter, list } = parseArgs(process.argv.slice(2));
  const chosen = MUTANTS.filter((m) => (round === undefined || (m.round ?? 1) === round) && (!filter || new RegExp(filter).test(m.name) || m.file.includes(filter)));
  if (list) {
    for (const m of chosen) {
      const n = occurrences(m);
      console.log(`round ${m.round ?? 1}  ${n === 1 ? 'ok   ' : `STALE (${n})`} ${m.equivalent ? '[equivalent] ' : ''}${m.name} [${m.file}]`);
    }
    process.exitCode = chosen.every((m) => occurrences(m) === 1) ? 0 : 1;
    return;
  }
  undoLeftMutant();
  const results = [];
  // The unmutated addon for this run, so TypeScript mutants test the real one.
  if (!build('native/', [shimBuild.test])) throw new Error('mutate: the unmutated addon does not build');
  for (const mutant of chosen) {
    const path = join(root, mutant.file);
    const original = readFileSync(path, 'utf8');
    const found = occurrences(mutant);
    if (found !== 1) {
      results.push({ ...mutant, status: 'stale', detail: `"${mutant.find.slice(0, 40)}" occurs ${found} times` });
      console.log(`STALE     ${mutant.name}`);
      continue;
    }
    if (mutant.equivalent) {
      results.push({ ...mutant, status: 'equivalent', detail: mutant.equivalent });
      console.log(`EQUIVALENT ${mutant.name}`);
      continue;
    }
    let result;
    try {
      // Noted first: a run killed while the mutant is in place (Ctrl-C) leaves it for the next run to undo.
      mkdirSync(mutantBuild, { recursive: true });
      writeFileSync(inPlace, JSON.stringify({ file: mutant.file, original, pid: process.pid }));
      writeFileSync(path, original.replace(mutant.find, mutant.replace));
      result = build(mutant.file, mutant.tests) ? runTests(mutant) : { status: 'build failed' };
    } finally {
      writeFileSync(path, original);
      rmSync(inPlace, { force: true });
    }
    // The next mutant runs against the unmutated build of everything else:
    // a TypeScript mutant left in dist/ would be tested again with it.
    build(mutant.file.startsWith('native/') ? 'native/' : mutant.file, mutant.tests);
    results.push({ ...mutant, ...result });
    console.log(`${result.status.toUpperCase().padEnd(9)} ${mutant.name}${result.detail ? ` (${result.detail})` : ''}`);
  }
  const rounds = [...new Set(results.map((r) => r.round ?? 1))].sort((a, b) => a - b);
  let allCaught = results.length > 0;
  for (const n of rounds) {
    const ofRound = results.filter((r) => (r.round ?? 1) === n);
    const valid = ofRound.filter((r) => r.status === 'caught' || r.status === 'survived' || r.status === 'hung');
    const caught = valid.filter((r) => r.status === 'caught').length;
    const equivalent = ofRound.filter((r) => r.status === 'equivalent').length;
    console.log(`\nround ${n}: mutation score ${caught}/${valid.length} caught (${valid.length ? Math.round((100 * caught) / valid.length) : 0}%)${equivalent ? `, ${equivalent} equivalent not counted` : ''}`);
    for (const r of ofRound.filter((r) => r.status !== 'caught')) console.log(`  ${r.status}: ${r.name} [${r.file}]${r.status === 'equivalent' ? `: ${r.detail}` : ''}`);
    // A stale mutant or one that does not compile is a bug of this file's.
    allCaught &&= valid.length > 0 && caught === valid.length && valid.length + equivalent === ofRound.length;
  }
  process.exitCode = allCaught ? 0 : 1;
}

main();
