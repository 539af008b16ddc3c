// The addon's face to JavaScript: the Transfer class, sendNow and mapFile
// for small responses sent in the caller's tick, openBeneath for serving's
// `symlinks` option, and capabilities().
// A Transfer owns descriptors and buffers for the duration of a transfer
// and hands it to whoever runs its steps: the driver thread (driver.cc)
// for sockets and pipes, which must be waited on, or the threadpool for
// regular files, which never make us wait for a peer but may keep the
// kernel busy copying. flow.cc has the Flow class (receiving and relaying),
// which the driver runs the same way.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <napi.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <unordered_map>

#include "../flow.h"
#include "../lease.h"
#include "../open_beneath.h"
#include "../zerocopy.h"
#include "../waiter.h"
#include "driver.h"
#include "env.h"

namespace {

// Bytes one threadpool job may move before it hands back to the JS thread,
// which reports progress and notices an abort.
constexpr uint64_t kJobBudget = 32ull << 20;

// Transfers to sockets and pipes this small get one attempt on the JS
// thread before the driver is involved: the output is non-blocking, so it
// cannot make us wait, and a small response then costs no thread handoff.
// Only a page-cache miss on the file could take time, as it would for nginx.
constexpr uint64_t kInlineBytes = 128 * 1024;
// The longest head sendNow takes as a string.
constexpr size_t kHeadBytes = 16 * 1024;

// Points an iovec list at a Buffer's bytes; nothing for an empty or absent one.
void ListBuffer(Napi::Value v, struct iovec* iov, struct iovec** list, int* count) {
  if (!v.IsBuffer()) return;
  auto buf = v.As<Napi::Buffer<char>>();
  if (buf.Length() == 0) return;
  iov->iov_base = buf.Data();
  iov->iov_len = buf.Length();
  *list = iov;
  *count = 1;
}

int DupCloexec(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }

// A boolean argument, read as it is (false for anything else). Not
// ToBoolean(): napi_coerce_to_bool is refused once the environment is
// stopping (a worker being terminated), and node-addon-api then returns an
// empty Boolean whose reading is a fatal error of the whole process.
bool Flag(const Napi::Value& v) {
  bool flag = false;
  napi_get_value_bool(v.Env(), v, &flag);
  return flag;
}

bool IsFile(enum zc_output_kind kind) {
  return kind == ZC_OUT_FILE || kind == ZC_OUT_APPEND;
}

class Transfer : public Napi::ObjectWrap<Transfer>, public Reported {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Transfer",
                       {InstanceMethod<&Transfer::Start>("start"),
                        InstanceMethod<&Transfer::Abort>("abort")});
  }

  // new Transfer(outFd, inFd, offset, count, headers, trailers, backend,
  //              lease, onProgress(sent), onDone(errno, syscall, sent))
  Transfer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Transfer>(info) {
    // No wrapper: the environment is shutting down (a worker being
    // terminated) and Node-API refused the wrap. Every call on our empty
    // references would then be a fatal error of the whole process.
    if (IsEmpty()) return;
    Napi::Env env = info.Env();
    data_ = env.GetInstanceData<EnvData>();
    bool lossless;
    t_.offset = info[2].As<Napi::BigInt>().Uint64Value(&lossless);
    t_.remaining = info[3].As<Napi::BigInt>().Uint64Value(&lossless);
    TakeBuffer(info[4], &headers_, &header_iov_, &t_.headers, &t_.nheaders);
    TakeBuffer(info[5], &trailers_, &trailer_iov_, &t_.trailers,
               &t_.ntrailers);
    t_.lease = Flag(info[7]);
    on_progress_ = Napi::Persistent(info[8].As<Napi::Function>());
    on_done_ = Napi::Persistent(info[9].As<Napi::Function>());

    // Our own descriptors: the caller may close theirs (Node closes a
    // destroyed socket's) while a step is still using ours.
    t_.out_fd = DupCloexec(info[0].As<Napi::Number>().Int32Value());
    if (t_.out_fd < 0) {
      ThrowErrno(env, errno, "dup");
      return;
    }
    t_.in_fd = DupCloexec(info[1].As<Napi::Number>().Int32Value());
    if (t_.in_fd < 0) {
      ThrowErrno(env, errno, "dup");
      return;
    }
    int err = zc_classify_output(t_.out_fd, &t_.out_kind);
    if (err != 0) {
      ThrowErrno(env, err, "fstat");
      return;
    }
    // "auto" takes the best backend for this kind of output, and the next
    // one when its call refuses the transfer; a named one must be able to
    // write to it, and a refusal is the transfer's error.
    std::string name = info[6].As<Napi::String>();
    backend_ = name == "auto" ? zc_pick_backend(t_.out_kind)
                              : zc_find_backend(name.c_str());
    t_.may_fall_back = name == "auto";
    if (!backend_ || !(backend_->outputs & ZC_OUTPUT(t_.out_kind))) {
      Napi::Error e = Napi::TypeError::New(
          env, "The backend '" + name + "' cannot write to this output");
      e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_VALUE"));
      e.ThrowAsJavaScriptException();
      return;
    }
    job_.t = &t_;
    Value().Set("backend", backend_->name);
  }

  ~Transfer() { CloseDescriptors(); }

  // A report from the driver, on the JS thread.
  void OnReport(int result, uint64_t sent) override {
    Progress(sent);
    if (result != EINPROGRESS) Finish(result);
  }

 private:
  enum class State { Idle, Driven, Working, Done };

  // Keeps the Buffer alive while another thread may read it.
  static void TakeBuffer(Napi::Value v,
                         Napi::Reference<Napi::Buffer<char>>* ref,
                         struct iovec* iov, struct iovec** list, int* count) {
    ListBuffer(v, iov, list, count);
    if (*count > 0) *ref = Napi::Persistent(v.As<Napi::Buffer<char>>());
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (state_ != State::Idle) return env.Undefined();
    if (!data_->EnsureDriver(env)) {
      // The error is pending for the caller; our duplicates go now, not at
      // garbage collection.
      state_ = State::Done;
      CloseDescriptors();
      return env.Undefined();
    }
    // The driver waits for writability, so the output must not block: set
    // O_NONBLOCK for the transfer (sockets from Node already have it).
    if (!IsFile(t_.out_kind)) {
      int flags = fcntl(t_.out_fd, F_GETFL);
      if (flags >= 0 && !(flags & O_NONBLOCK) &&
          fcntl(t_.out_fd, F_SETFL, flags | O_NONBLOCK) == 0)
        restore_blocking_ = true;
    }
    Register(data_, &job_, this);
    Ref();  // alive until Finish, whatever JS drops
    int err = zc_begin(&t_, backend_);
    began_ = true;
    if (err != 0) {
      Finish(err);
    } else if (IsFile(t_.out_kind)) {
      Queue();
    } else if (!Inline()) {
      state_ = State::Driven;
      int err = data_->driver->Drive(&job_);
      if (err != 0) Finish(err);
    }
    return env.Undefined();
  }

  // Tries a small transfer right here; true when it has ended.
  bool Inline() {
    uint64_t total = zc_iov_bytes(t_.headers, t_.nheaders) + t_.remaining +
                     zc_iov_bytes(t_.trailers, t_.ntrailers);
    if (total > kInlineBytes) return false;
    int r = zc_run(&t_, kInlineBytes);
    if (r == EAGAIN || r == EINPROGRESS) return false;
    Progress(t_.sent);
    Finish(r);
    return true;
  }

  // abort(shutdown): stops the transfer. With shutdown, also shuts the
  // output down, because our duplicate of a socket would otherwise keep the
  // connection open after Node closed its own descriptor.
  Napi::Value Abort(const Napi::CallbackInfo& info) {
    if (state_ == State::Done) return info.Env().Undefined();
    job_.aborted = true;
    if (Flag(info[0]) &&
        (t_.out_kind == ZC_OUT_TCP || t_.out_kind == ZC_OUT_SOCKET))
      shutdown(t_.out_fd, SHUT_RDWR);
    if (state_ == State::Idle ||
        (state_ == State::Driven && data_->driver->Stop(&job_)))
      Finish(ECANCELED);
    // Otherwise a step is running; its outcome arrives as ECANCELED.
    return info.Env().Undefined();
  }

  void Queue() {
    state_ = State::Working;
    napi_value name = Napi::String::New(Env(), "zerocopy.send");
    napi_create_async_work(Env(), nullptr, name, Execute, Complete, this,
                           &work_);
    napi_queue_async_work(Env(), work_);
  }

  static void Execute(napi_env, void* self) {
    auto* tr = static_cast<Transfer*>(self);
    tr->result_ = tr->job_.aborted
                      ? ECANCELED
                      : zc_run(&tr->t_, kJobBudget);
  }

  static void Complete(napi_env env, napi_status status, void* self) {
    auto* tr = static_cast<Transfer*>(self);
    napi_delete_async_work(env, tr->work_);
    tr->work_ = nullptr;
    Napi::HandleScope scope(tr->Env());
    tr->Progress(tr->t_.sent);
    int r = status == napi_cancelled || tr->job_.aborted ? ECANCELED
                                                          : tr->result_;
    if (r == EINPROGRESS) {
      tr->Queue();
    } else {
      tr->Finish(r);
    }
  }

  void Progress(uint64_t sent) { ReportProgress(Env(), on_progress_, &reported_, sent); }

  void Finish(int err) {
    state_ = State::Done;
    Unregister(data_, job_);
    if (began_ && !job_.ended) zc_end(&t_);
    began_ = false;
    CloseDescriptors();
    headers_.Reset();
    trailers_.Reset();
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    // The backend that carried the transfer: another one than at the
    // start when the first one's call refused it.
    if (t_.backend && t_.backend != backend_)
      Value().Set("backend", t_.backend->name);
    Napi::Function done = on_done_.Value();
    on_progress_.Reset();
    on_done_.Reset();
    const char* call = err == 0 || err == ECANCELED || err == ZC_ETRUNCATED
                           ? ""
                           : (t_.call ? t_.call : "");
    done.Call({Napi::Number::New(env, err), Napi::String::New(env, call),
               Napi::Number::New(env, double(t_.sent))});
    if (job_.id != 0) Unref();
  }

  void CloseDescriptors() {
    if (restore_blocking_ && t_.out_fd >= 0) {
      fcntl(t_.out_fd, F_SETFL, fcntl(t_.out_fd, F_GETFL) & ~O_NONBLOCK);
      restore_blocking_ = false;
    }
    for (int* fd : {&t_.out_fd, &t_.in_fd}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
  }

  EnvData* data_ = nullptr;
  const zc_backend* backend_ = nullptr;  // the one chosen at construction
  zc_transfer t_{-1, -1};
  DriverJob job_;
  struct iovec header_iov_ {};
  struct iovec trailer_iov_ {};
  Napi::Reference<Napi::Buffer<char>> headers_;
  Napi::Reference<Napi::Buffer<char>> trailers_;
  Napi::FunctionReference on_progress_;
  Napi::FunctionReference on_done_;
  napi_async_work work_ = nullptr;
  State state_ = State::Idle;
  bool began_ = false;
  bool restore_blocking_ = false;
  int result_ = 0;
  uint64_t reported_ = 0;
};

// sendNow(outFd, outKind, inFd, offset, count, headers, trailers, body): a small
// transfer to a socket, tried once right here on the JS thread with the
// caller's own descriptors: no duplicate, no object, no thread hop. The
// caller read outFd in this tick and the call ends before the tick does,
// so the number cannot change hands meanwhile; the caller also knows the
// socket's kind (TCP), which spares the three calls of classifying it. The socket
// is non-blocking, so only a page-cache miss on the file could take time,
// as it would for nginx. Leaves [result, bytes sent, backend index] in the
// array given to setSendNowResult: 0 (done), EAGAIN (the caller hands the
// rest to a Transfer), ZC_ETRUNCATED or an errno. Returns the failing
// call's name, or undefined. With `body` (file bytes from mapFile), the
// headers and the body go in one writev and count is 0. `headers` may be a
// latin1 string of at most headBytes characters.
Napi::Value SendNow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvData* data = env.GetInstanceData<EnvData>();
  struct iovec header_iov[2] {}, trailer_iov {};
  zc_transfer t{};
  t.out_fd = info[0].As<Napi::Number>().Int32Value();
  t.out_kind = static_cast<zc_output_kind>(info[1].As<Napi::Number>().Int32Value());
  t.in_fd = info[2].As<Napi::Number>().Int32Value();
  t.offset = static_cast<uint64_t>(info[3].As<Napi::Number>().Int64Value());
  t.remaining = static_cast<uint64_t>(info[4].As<Napi::Number>().Int64Value());
  // A head as node:http renders it, a latin1 string: copied here, which
  // costs less than a Buffer made for it in JavaScript.
  // One byte more than headBytes and the NUL: a longer head copies
  // headBytes + 1 characters, which says it did not fit, in one call.
  char head[kHeadBytes + 2];
  if (info[5].IsString()) {
    size_t length = 0;
    napi_get_value_string_latin1(env, info[5], head, sizeof head, &length);
    if (length > kHeadBytes) {
      Napi::RangeError::New(env, "sendNow: the head is longer than headBytes").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (length > 0) {
      header_iov[0] = {head, length};
      t.headers = header_iov;
      t.nheaders = 1;
    }
  } else {
    ListBuffer(info[5], &header_iov[0], &t.headers, &t.nheaders);
  }
  // The file's bytes from memory (a mapping), written with the headers.
  if (info[7].IsBuffer() && info[7].As<Napi::Buffer<char>>().Length() > 0) {
    auto body = info[7].As<Napi::Buffer<char>>();
    header_iov[t.nheaders] = {body.Data(), body.Length()};
    t.headers = header_iov;
    t.nheaders++;
  }
  ListBuffer(info[6], &trailer_iov, &t.trailers, &t.ntrailers);
  t.may_fall_back = 1;
  int result = zc_begin(&t, zc_pick_backend(t.out_kind));
  if (result == 0) result = zc_run(&t, kInlineBytes);
  const zc_backend* carried = t.backend;
  zc_end(&t);
  // Over the budget (a caller asking for more than inlineBytes): the
  // driver takes the rest, as it does when the socket is full.
  if (result == EINPROGRESS) result = EAGAIN;
  double index = 0;
  for (const zc_backend* const* b = zc_backends; *b; b++)
    if (*b == carried) index = double(b - zc_backends);
  data->now_result[0] = result;
  data->now_result[1] = double(t.sent);
  data->now_result[2] = index;
  bool failed = result != 0 && result != EAGAIN && result != ZC_ETRUNCATED;
  return failed && t.call ? Napi::String::New(env, t.call) : env.Undefined();
}

// mapFile(fd, length): the file's first `length` bytes as a Buffer over a
// read-only shared mapping, unmapped when the Buffer is collected; undefined
// when the system or the runtime will not have it. Only the kernel reads it
// (a writev from it): past a truncated file's end that is EFAULT, where a
// read from JavaScript would be SIGBUS.
Napi::Value MapFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  size_t length = static_cast<size_t>(info[1].As<Napi::Number>().Int64Value());
  if (length == 0) return env.Undefined();
  void* map = mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return env.Undefined();
  napi_value buffer;
  auto unmap = [](napi_env, void* data, void* hint) { munmap(data, reinterpret_cast<uintptr_t>(hint)); };
  // Runtimes with a V8 sandbox refuse memory from outside it.
  if (napi_create_external_buffer(env, length, map, unmap, reinterpret_cast<void*>(length), &buffer) != napi_ok) {
    munmap(map, length);
    return env.Undefined();
  }
  return Napi::Value(env, buffer);
}

// openBeneath(root, path, noSymlinks, done(errno, fd)): opens `path` below
// the folder `root` without leaving it (open_beneath.h), on the threadpool:
// an open may wait for a slow disk, never for a peer.
class OpenBeneath : public Napi::AsyncWorker {
 public:
  OpenBeneath(Napi::Function done, std::string root, std::string path, bool no_symlinks)
      : Napi::AsyncWorker(done), root_(std::move(root)), path_(std::move(path)), no_symlinks_(no_symlinks) {}

  void Execute() override {
    char real[PATH_MAX];
    int root = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0 || realpath(root_.c_str(), real) == nullptr) {
      result_ = -errno;
      if (root >= 0) close(root);
      return;
    }
    result_ = zc_open_beneath(root, real, path_.c_str(), no_symlinks_);
    close(root);
  }

  void OnOK() override {
    Napi::Env env = Env();
    napi_value args[] = {Napi::Number::New(env, result_ < 0 ? -result_ : 0), Napi::Number::New(env, result_ < 0 ? -1 : result_)};
    napi_value ignored;
    napi_status status = napi_call_function(env, env.Undefined(), Callback().Value(), 2, args, &ignored);
    // Refused without running (a worker being terminated runs this at its
    // teardown, and no exception is pending then): the descriptor reached
    // no one, so it is ours to close. One that ran had it, even if it threw.
    bool threw = false;
    if (status != napi_ok && result_ >= 0 && napi_is_exception_pending(env, &threw) == napi_ok && !threw) close(result_);
  }

 private:
  std::string root_;
  std::string path_;
  bool no_symlinks_;
  int result_ = -EIO;
};

Napi::Value OpenBeneathCall(const Napi::CallbackInfo& info) {
  auto* work = new OpenBeneath(info[3].As<Napi::Function>(), info[0].As<Napi::String>(), info[1].As<Napi::String>(), Flag(info[2]));
  work->Queue();
  return info.Env().Undefined();
}

Napi::Value SetSendNowResult(const Napi::CallbackInfo& info) {
  EnvData* data = info.Env().GetInstanceData<EnvData>();
  auto array = info[0].As<Napi::Float64Array>();
  if (array.ElementLength() < 3) {
    Napi::RangeError::New(info.Env(), "sendNow needs room for 3 results").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  data->now_array = Napi::Persistent(array);
  data->now_result = array.Data();
  return info.Env().Undefined();
}

Napi::Value Capabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object caps = Napi::Object::New(env);
  Napi::Array backends = Napi::Array::New(env);
  uint32_t i = 0;
  for (const zc_backend* const* b = zc_backends; *b; b++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", (*b)->name);
    o.Set("zeroCopy", Napi::Boolean::New(env, (*b)->zero_copy));
    o.Set("headersTrailers", (*b)->headers_trailers);
    backends.Set(i++, o);
  }
  caps.Set("backends", backends);
  caps.Set("headersTrailers", zc_backends[0]->headers_trailers);
  caps.Set("leases", Napi::Boolean::New(env, zc_leases_supported()));
  caps.Set("maxChunk", Napi::Number::New(env, ZC_MAX_CHUNK));
  caps.Set("truncatedErrno", Napi::Number::New(env, ZC_ETRUNCATED));
  caps.Set("cancelledErrno", Napi::Number::New(env, ECANCELED));
  Napi::Object kinds = Napi::Object::New(env);
  kinds.Set("tcp", Napi::Number::New(env, ZC_OUT_TCP));
  caps.Set("outputKinds", kinds);
  caps.Set("inlineBytes", Napi::Number::New(env, double(kInlineBytes)));
  caps.Set("headBytes", Napi::Number::New(env, double(kHeadBytes)));
  caps.Set("waiter", zc_waiter_name);
  caps.Set("movers", MoverCapabilities(env));
  return caps;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new EnvData());
  exports.Set("Transfer", Transfer::Define(env));
  exports.Set("Flow", DefineFlow(env));
  exports.Set("capabilities", Napi::Function::New(env, Capabilities));
  exports.Set("sendNow", Napi::Function::New(env, SendNow));
  exports.Set("mapFile", Napi::Function::New(env, MapFile));
  exports.Set("setSendNowResult", Napi::Function::New(env, SetSendNowResult));
  exports.Set("openBeneath", Napi::Function::New(env, OpenBeneathCall));
  return exports;
}

}  // namespace

NODE_API_MODULE(zerocopy, Init)
