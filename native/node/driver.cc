#include "driver.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <chrono>
#include <vector>

namespace {

// Bytes one step run may move before the driver turns to other transfers.
constexpr uint64_t kRunBudget = 32ull << 20;

// Progress reports wake the event loop; they refresh idle timers and feed
// progress displays, for which a few a second are plenty.
constexpr auto kReportEvery = std::chrono::milliseconds(100);

int MakeWakePipe(int fds[2]) {
  if (pipe(fds) != 0) return errno;
  for (int i = 0; i < 2; i++) {
    fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
  }
  return 0;
}

}  // namespace

Driver::Driver(Napi::Env env, Report report)
    : env_(env), report_(std::move(report)) {
  if (int err = MakeWakePipe(wake_)) {
    // With errno and syscall, so the caller gets EMFILE like any other
    // system error, not a message alone.
    Napi::Error e = Napi::Error::New(env, strerror(err));
    e.Set("errno", Napi::Number::New(env, err));
    e.Set("syscall", Napi::String::New(env, "pipe"));
    e.ThrowAsJavaScriptException();
    return;
  }
  napi_value name = Napi::String::New(env, "zerocopy.driver");
  NAPI_THROW_IF_FAILED_VOID(
      env, napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1,
                                           nullptr, nullptr, this, CallJs,
                                           &tsfn_));
  napi_unref_threadsafe_function(env, tsfn_);
  // Registered after the threadsafe function, so it runs before Node's own
  // teardown of that function: releasing it later, from the instance data's
  // finalizer, deadlocks on newer Node versions.
  napi_add_env_cleanup_hook(env, Shutdown, this);
  hooked_ = true;
  thread_ = std::thread([this] { Run(); });
}

Driver::~Driver() {
  if (hooked_) {
    napi_remove_env_cleanup_hook(env_, Shutdown, this);
    Shutdown(this);
  }
  for (int fd : wake_)
    if (fd >= 0) close(fd);
}

void Driver::Shutdown(void* self) {
  auto* d = static_cast<Driver*>(self);
  d->hooked_ = false;
  {
    std::lock_guard<std::mutex> lock(d->mu_);
    d->stopping_ = true;
  }
  d->Wake();
  if (d->thread_.joinable()) d->thread_.join();
  if (d->tsfn_) napi_release_threadsafe_function(d->tsfn_, napi_tsfn_abort);
  d->tsfn_ = nullptr;
}

void Driver::Drive(DriverJob* job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting_[job->id] = job;
  }
  Wake();
}

bool Driver::Stop(DriverJob* job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    job->aborted = true;
    // Not waiting: a step is running, or its outcome is already on its way.
    if (waiting_.erase(job->id) == 0) return false;
  }
  // A poll() in progress holds a reference to the output's socket, so
  // closing our duplicate would not close the connection (no FIN, buffers
  // kept) until the peer made room: wake the thread so it lets go now.
  Wake();
  return true;
}

void Driver::Hold() {
  if (holds_++ == 0 && tsfn_) napi_ref_threadsafe_function(env_, tsfn_);
}

void Driver::Release() {
  if (--holds_ == 0 && tsfn_) napi_unref_threadsafe_function(env_, tsfn_);
}

void Driver::Wake() {
  char byte = 1;
  // A full pipe already holds a wake-up; nothing is lost by failing.
  (void)!write(wake_[1], &byte, 1);
}

void Driver::Post(uint64_t id, int result, uint64_t sent) {
  napi_call_threadsafe_function(tsfn_, new Message{id, result, sent},
                                napi_tsfn_nonblocking);
}

void Driver::Run() {
  std::vector<pollfd> fds;
  std::vector<uint64_t> ids;
  for (;;) {
    fds.assign(1, pollfd{wake_[0], POLLIN, 0});
    ids.assign(1, 0);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      for (const auto& [id, job] : waiting_) {
        fds.push_back(pollfd{job->t->out_fd, POLLOUT, 0});
        ids.push_back(id);
      }
    }
    if (poll(fds.data(), fds.size(), -1) < 0) continue;  // EINTR
    if (fds[0].revents) {
      char drain[64];
      while (read(wake_[0], drain, sizeof drain) > 0) {
      }
    }
    for (size_t i = 1; i < fds.size(); i++) {
      // Writable, or an error or hang-up that the next step will report.
      if (!fds[i].revents) continue;
      DriverJob* job;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = waiting_.find(ids[i]);
        if (it == waiting_.end()) continue;  // stopped while we slept
        job = it->second;
        waiting_.erase(it);
      }
      uint64_t before = job->t->sent;
      int r = job->aborted ? ECANCELED
                           : zc_run(job->t, kRunBudget);
      uint64_t sent = job->t->sent;
      std::lock_guard<std::mutex> lock(mu_);
      if (job->aborted) r = ECANCELED;
      if (r == EAGAIN || r == EINPROGRESS) {
        waiting_[job->id] = job;
        auto now = std::chrono::steady_clock::now();
        if (sent != before && now - job->reported >= kReportEvery) {
          job->reported = now;
          Post(job->id, EINPROGRESS, sent);
        }
      } else {
        Post(job->id, r, sent);
      }
    }
  }
}

void Driver::CallJs(napi_env env, napi_value, void* context, void* data) {
  std::unique_ptr<Message> m(static_cast<Message*>(data));
  // env is null while the environment tears down: nothing to report then.
  if (env == nullptr) return;
  static_cast<Driver*>(context)->report_(m->id, m->result, m->sent);
}
