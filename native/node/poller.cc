#include "poller.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <vector>

namespace {

int MakeWakePipe(int fds[2]) {
  if (pipe(fds) != 0) return errno;
  for (int i = 0; i < 2; i++) {
    fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
  }
  return 0;
}

}  // namespace

Poller::Poller(Napi::Env env, ReadyCallback on_ready)
    : env_(env), on_ready_(std::move(on_ready)) {
  int err = MakeWakePipe(wake_);
  if (err != 0) {
    Napi::Error::New(env, "zerocopy: cannot create the poller's pipe")
        .ThrowAsJavaScriptException();
    return;
  }
  napi_value name = Napi::String::New(env, "zerocopy.poller");
  NAPI_THROW_IF_FAILED_VOID(
      env, napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1,
                                           nullptr, nullptr, this, CallJs,
                                           &tsfn_));
  napi_unref_threadsafe_function(env, tsfn_);
  thread_ = std::thread([this] { Run(); });
}

Poller::~Poller() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
  if (tsfn_) napi_release_threadsafe_function(tsfn_, napi_tsfn_abort);
  for (int fd : wake_)
    if (fd >= 0) close(fd);
}

void Poller::Watch(int fd, uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    watched_[id] = fd;
  }
  Wake();
}

void Poller::Unwatch(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  watched_.erase(id);
}

void Poller::Hold() {
  if (holds_++ == 0) napi_ref_threadsafe_function(env_, tsfn_);
}

void Poller::Release() {
  if (--holds_ == 0) napi_unref_threadsafe_function(env_, tsfn_);
}

void Poller::Wake() {
  char byte = 1;
  // A full pipe already holds a wake-up; nothing is lost by failing.
  (void)!write(wake_[1], &byte, 1);
}

void Poller::Run() {
  std::vector<pollfd> fds;
  std::vector<uint64_t> ids;
  for (;;) {
    fds.assign(1, pollfd{wake_[0], POLLIN, 0});
    ids.assign(1, 0);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      for (const auto& [id, fd] : watched_) {
        fds.push_back(pollfd{fd, POLLOUT, 0});
        ids.push_back(id);
      }
    }
    if (poll(fds.data(), fds.size(), -1) < 0) continue;  // EINTR
    if (fds[0].revents) {
      char drain[64];
      while (read(wake_[0], drain, sizeof drain) > 0) {
      }
    }
    std::vector<uint64_t> ready;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = 1; i < fds.size(); i++) {
        if (!fds[i].revents) continue;
        auto it = watched_.find(ids[i]);
        // Unwatched while we slept: its descriptor may be closed or reused.
        if (it == watched_.end() || it->second != fds[i].fd) continue;
        watched_.erase(it);
        ready.push_back(ids[i]);
      }
    }
    for (uint64_t id : ready)
      napi_call_threadsafe_function(tsfn_, new uint64_t(id),
                                    napi_tsfn_nonblocking);
  }
}

void Poller::CallJs(napi_env env, napi_value, void* context, void* data) {
  std::unique_ptr<uint64_t> id(static_cast<uint64_t*>(data));
  // env is null while the environment tears down: nothing to resume then.
  if (env == nullptr) return;
  static_cast<Poller*>(context)->on_ready_(*id);
}
