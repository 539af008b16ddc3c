// Waits for outputs to become writable on a thread of its own, so that
// neither the event loop nor a threadpool thread ever waits for a peer.
// One poller serves every transfer of one Node environment (main thread or
// worker); it reports readiness back on that environment's thread.
#pragma once

#include <napi.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

class Poller {
 public:
  using ReadyCallback = std::function<void(uint64_t id)>;

  Poller(Napi::Env env, ReadyCallback on_ready);
  ~Poller();

  // Reports `id` once, on the JS thread, when `fd` is writable (or has an
  // error or hang-up, which the next write attempt will report).
  void Watch(int fd, uint64_t id);
  // Forgets `id`; a report already on its way is still delivered, so the
  // callback must check that it is still expected.
  void Unwatch(uint64_t id);

  // Keeps the event loop alive while transfers are pending.
  void Hold();
  void Release();

 private:
  void Run();
  void Wake();
  static void CallJs(napi_env env, napi_value, void* context, void* data);

  napi_env env_;
  napi_threadsafe_function tsfn_ = nullptr;
  ReadyCallback on_ready_;
  int wake_[2] = {-1, -1};
  std::mutex mu_;
  std::map<uint64_t, int> watched_;
  bool stopping_ = false;
  int holds_ = 0;
  std::thread thread_;
};
