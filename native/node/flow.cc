// The Flow class: a receive (one flow, from a socket, pipe or device into
// a file or any output) or a relay (two flows, a to b and b to a), run by
// the driver thread as a Transfer is. It owns duplicates of the caller's
// descriptors, and the Buffers of bytes Node had read already, until it
// finishes.
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../flow.h"
#include "driver.h"
#include "env.h"

namespace {

// Bytes the first run on the JS thread may move, as a small sendFile's
// attempt there (addon.cc's kInlineBytes).
constexpr uint64_t kInlineBytes = 128 * 1024;

bool IsSocket(enum zc_output_kind kind) { return kind == ZC_OUT_TCP || kind == ZC_OUT_SOCKET; }

class Flow : public Napi::ObjectWrap<Flow>, public Reported {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Flow",
                       {InstanceMethod<&Flow::Start>("start"),
                        InstanceMethod<&Flow::Abort>("abort"),
                        InstanceMethod<&Flow::Moved>("moved")});
  }

  // new Flow('receive', inFd, outFd, offset, count, pending, null,
  //          false, false, backend, onProgress(moved), onDone(...))
  // new Flow('relay', aFd, bFd, 0n, -1n, pendingA, pendingB,
  //          endsBothA, endsBothB, backend, onProgress(moved), onDone(...))
  // onDone(errno, syscall, moved[0], moved[1], failed flow, taken[0]):
  // bytes written each way, which flow failed, and the bytes the first flow
  // took from its input (written or not). `count` is -1n for none; pending
  // bytes (already read by Node) go first: a's to b. A last argument true
  // says that fdA (and for a relay fdB) is a TCP socket of Node's, which is
  // non-blocking: that spares the system calls of classifying it.
  Flow(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Flow>(info) {
    if (IsEmpty()) return;  // see Transfer: a terminating worker
    Napi::Env env = info.Env();
    data_ = env.GetInstanceData<EnvData>();
    relay_ = info[0].As<Napi::String>().Utf8Value() == "relay";
    for (int i = 0; i < 2; i++) {
      fds_[i] = fcntl(info[1 + i].As<Napi::Number>().Int32Value(), F_DUPFD_CLOEXEC, 0);
      if (fds_[i] < 0) {
        ThrowErrno(env, errno, "dup");
        return;
      }
    }
    r_.nflows = relay_ ? 2 : 1;
    r_.nready = -1;  // no report yet: every flow runs
    tcp_ = info[12].ToBoolean();
    for (int i = 0; i < r_.nflows; i++) {
      zc_flow& f = r_.flows[i];
      f.in_fd = fds_[i];
      f.out_fd = fds_[1 - i];
      f.left = ZC_UNLIMITED;
      f.pass_end = relay_;
      int err = 0;
      if (tcp_) f.in_kind = ZC_IN_SOCKET;
      else err = zc_classify_input(f.in_fd, &f.in_kind);
      if (tcp_ && relay_) f.out_kind = ZC_OUT_TCP;
      else if (err == 0) err = zc_classify_flow_output(f.out_fd, &f.out_kind);
      if (err != 0) {
        ThrowErrno(env, err, "fstat");
        return;
      }
      // An output not open for writing would fail its first write after
      // the first bytes were taken from the input: refused before.
      if (!(tcp_ && relay_) && (fcntl(f.out_fd, F_GETFL) & O_ACCMODE) == O_RDONLY) {
        ThrowErrno(env, EBADF, "write");
        return;
      }
      TakePending(info[5 + i], i);
      r_.ends_both[i] = info[7 + i].ToBoolean();
    }
    if (!relay_) {
      bool lossless;
      r_.flows[0].out_offset = info[3].As<Napi::BigInt>().Uint64Value(&lossless);
      int64_t count = info[4].As<Napi::BigInt>().Int64Value(&lossless);
      if (count >= 0) r_.flows[0].left = static_cast<uint64_t>(count);
    }
    // "auto" takes the best mover for each flow, and the next one when it
    // refuses; a named one must fit, and its refusal is the flow's error.
    std::string name = info[9].As<Napi::String>();
    for (int i = 0; i < r_.nflows; i++) {
      zc_flow& f = r_.flows[i];
      movers_[i] = name == "auto" ? zc_pick_mover(f.in_kind, f.out_kind) : zc_find_mover(name.c_str());
      f.may_fall_back = name == "auto";
      if (!movers_[i] || !(movers_[i]->inputs & ZC_INPUT(f.in_kind)) || !(movers_[i]->outputs & ZC_OUTPUT(f.out_kind))) {
        Napi::Error e = Napi::TypeError::New(env, "The backend '" + name + "' cannot carry this " + (relay_ ? "relay" : "receive"));
        e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_VALUE"));
        e.ThrowAsJavaScriptException();
        return;
      }
    }
    on_progress_ = Napi::Persistent(info[10].As<Napi::Function>());
    on_done_ = Napi::Persistent(info[11].As<Napi::Function>());
    job_.r = &r_;
    Value().Set("backend", movers_[0]->name);
  }

  ~Flow() { CloseDescriptors(); }

  void OnReport(int result, uint64_t moved) override {
    Progress(moved);
    if (result != EINPROGRESS) Finish(result);
  }

 private:
  enum class State { Idle, Driven, Done };

  void TakePending(Napi::Value v, int i) {
    if (!v.IsBuffer()) return;
    auto buf = v.As<Napi::Buffer<char>>();
    if (buf.Length() == 0) return;
    pending_[i] = Napi::Persistent(buf);
    r_.flows[i].pending = buf.Data();
    r_.flows[i].npending = buf.Length();
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (state_ != State::Idle) return env.Undefined();
    if (!data_->EnsureDriver(env)) {
      state_ = State::Done;
      CloseDescriptors();
      return env.Undefined();
    }
    // The driver waits for readiness, so nothing may block: O_NONBLOCK for
    // the flow's duration (sockets from Node have it already). A regular
    // file never blocks.
    for (int i = 0; i < 2; i++) {
      if (tcp_ && (relay_ || i == 0)) continue;
      if (!relay_ && i == 1 && (r_.flows[0].out_kind == ZC_OUT_FILE || r_.flows[0].out_kind == ZC_OUT_APPEND)) continue;
      int flags = fcntl(fds_[i], F_GETFL);
      if (flags >= 0 && !(flags & O_NONBLOCK) && fcntl(fds_[i], F_SETFL, flags | O_NONBLOCK) == 0) restore_blocking_[i] = true;
    }
    Register(data_, &job_, this);
    Ref();  // alive until Finish, whatever JS drops
    began_ = true;
    int err = 0;
    for (int i = 0; i < r_.nflows && err == 0; i++) err = zc_flow_begin(&r_.flows[i], movers_[i]);
    // One run here first, as a small sendFile has one: nothing blocks, and
    // what is there already (Node's bytes, the input's) moves at once; a
    // flow that must wait then says for what, and the driver arms that
    // without a wake-up and a run of its own.
    if (err == 0) err = zc_relay_run(&r_, kInlineBytes);
    if (err == EAGAIN || err == EINPROGRESS) {
      state_ = State::Driven;
      err = data_->driver->Drive(&job_);
    }
    if (err != 0 || state_ != State::Driven) {
      Progress(zc_relay_moved(&r_));
      Finish(err);
    }
    return env.Undefined();
  }

  // abort(shutdown): stops the flows. With shutdown, also shuts the sockets
  // down: our duplicates would otherwise keep a connection open after Node
  // closed its own descriptor.
  Napi::Value Abort(const Napi::CallbackInfo& info) {
    if (state_ == State::Done) return info.Env().Undefined();
    job_.aborted = true;
    if (info[0].ToBoolean()) {
      for (int i = 0; i < r_.nflows; i++) {
        if (r_.flows[i].in_kind == ZC_IN_SOCKET) shutdown(r_.flows[i].in_fd, SHUT_RDWR);
        if (IsSocket(r_.flows[i].out_kind)) shutdown(r_.flows[i].out_fd, SHUT_RDWR);
      }
    }
    if (state_ == State::Idle || (state_ == State::Driven && data_->driver->Stop(&job_))) Finish(ECANCELED);
    return info.Env().Undefined();
  }

  // Bytes moved so far, both ways: for an idle timer to see whether the
  // flows moved since it last looked.
  Napi::Value Moved(const Napi::CallbackInfo& info) {
    uint64_t moved = state_ == State::Done ? zc_relay_moved(&r_) : job_.moved.load(std::memory_order_relaxed);
    // A kernel that moves bytes on its own (SO_SPLICE) counts them itself.
    // Counted twice for a moment once a run has ended and been accounted:
    // a change either way, which is all an idle timer asks.
    for (int i = 0; state_ == State::Driven && i < r_.nflows; i++)
      if (movers_[i]->kernel_moved) moved += movers_[i]->kernel_moved(fds_[i]);
    return Napi::Number::New(info.Env(), double(moved));
  }

  void Progress(uint64_t moved) { ReportProgress(Env(), on_progress_, &reported_, moved); }

  void Finish(int err) {
    state_ = State::Done;
    Unregister(data_, job_);
    if (began_ && !job_.ended) zc_relay_end(&r_);
    began_ = false;
    CloseDescriptors();
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    // The mover that carried the first flow: another one than at the start
    // when the first one refused it.
    if (r_.flows[0].mover) Value().Set("backend", r_.flows[0].mover->name);
    Napi::Function done = on_done_.Value();
    on_progress_.Reset();
    on_done_.Reset();
    for (auto& p : pending_) p.Reset();
    const zc_flow& failed = r_.flows[r_.failed];
    const char* call = err == 0 || err == ECANCELED ? "" : (failed.call ? failed.call : "");
    done.Call({Napi::Number::New(env, err), Napi::String::New(env, call),
               Napi::Number::New(env, double(r_.flows[0].moved)),
               Napi::Number::New(env, double(relay_ ? r_.flows[1].moved : 0)),
               Napi::Number::New(env, r_.failed),
               Napi::Number::New(env, double(r_.flows[0].taken))});
    if (job_.id != 0) Unref();
  }

  void CloseDescriptors() {
    for (int i = 0; i < 2; i++) {
      if (fds_[i] < 0) continue;
      if (restore_blocking_[i]) fcntl(fds_[i], F_SETFL, fcntl(fds_[i], F_GETFL) & ~O_NONBLOCK);
      restore_blocking_[i] = false;
      close(fds_[i]);
      fds_[i] = -1;
    }
  }

  EnvData* data_ = nullptr;
  bool relay_ = false;
  bool tcp_ = false;  // the sockets are Node's TCP sockets
  int fds_[2] = {-1, -1};
  bool restore_blocking_[2] = {false, false};
  const zc_mover* movers_[2] = {nullptr, nullptr};
  zc_relay r_{};
  DriverJob job_;
  Napi::Reference<Napi::Buffer<char>> pending_[2];
  Napi::FunctionReference on_progress_;
  Napi::FunctionReference on_done_;
  State state_ = State::Idle;
  bool began_ = false;
  uint64_t reported_ = 0;
};

}  // namespace

Napi::Function DefineFlow(Napi::Env env) { return Flow::Define(env); }

// What each mover of this build does, for capabilities().
Napi::Array MoverCapabilities(Napi::Env env) {
  Napi::Array movers = Napi::Array::New(env);
  uint32_t i = 0;
  for (const zc_mover* const* m = zc_movers; *m; m++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", (*m)->name);
    o.Set("zeroCopy", Napi::Boolean::New(env, (*m)->zero_copy));
    o.Set("toFile", Napi::Boolean::New(env, ((*m)->inputs & ZC_INPUT(ZC_IN_SOCKET)) && ((*m)->outputs & ZC_OUTPUT(ZC_OUT_FILE))));
    o.Set("socketToSocket", Napi::Boolean::New(env, ((*m)->inputs & ZC_INPUT(ZC_IN_SOCKET)) && ((*m)->outputs & ZC_OUTPUT(ZC_OUT_TCP))));
    movers.Set(i++, o);
  }
  return movers;
}
