// Drives transfers to sockets and pipes on a thread of its own: it waits
// through the system's readiness interface (waiter.h: epoll, kqueue, ...)
// until an output can take more, runs the transfer's steps right there, and
// reports to the JS thread. Neither the event loop nor a threadpool thread
// ever waits for a peer, a step follows writability without a hop through
// the event loop, and a waiting transfer costs nothing until it can move.
// One driver serves every transfer of one Node environment (the main thread
// or a worker).
#pragma once

#include <napi.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "../waiter.h"
#include "../zerocopy.h"

struct DriverJob {
  uint64_t id = 0;
  zc_transfer* t = nullptr;  // begun (zc_begin): it knows its backend
  std::atomic<bool> aborted{false};
  // Set by the driver when it has ended the transfer (zc_end) itself,
  // before reporting its outcome.
  bool ended = false;
  std::chrono::steady_clock::time_point reported{};  // last progress report
};

class Driver {
 public:
  // Called on the JS thread. `result` is EINPROGRESS for progress, else
  // the transfer's outcome (0, ZC_ETRUNCATED, ECANCELED or an errno).
  using Report = std::function<void(uint64_t id, int result, uint64_t sent)>;

  Driver(Napi::Env env, Report report);
  ~Driver();

  // Takes the job: its steps run here until it reports an outcome. Returns
  // 0, or the errno of a descriptor that cannot be waited on.
  int Drive(DriverJob* job);
  // Marks the job aborted and takes it back. True when it was waiting and
  // is now released (no outcome will be reported, and the driver has let
  // go of its descriptor); false when a step is running or has just ended,
  // whose outcome will still be reported.
  bool Stop(DriverJob* job);

  // False when construction failed: its error was thrown, or dropped where
  // the environment is stopping (a worker being terminated).
  bool Running() const { return hooked_; }

  // Keeps the event loop alive while transfers are pending.
  void Hold();
  void Release();

 private:
  struct Message {
    uint64_t id;
    int result;
    uint64_t sent;
  };

  void Run();
  // Waits for the job's output again, under mu_. Returns 0 or an errno.
  int Arm(DriverJob* job, bool again);
  static void Shutdown(void* self);
  void Post(uint64_t id, int result, uint64_t sent);
  static void CallJs(napi_env env, napi_value, void* context, void* data);

  napi_env env_;
  napi_threadsafe_function tsfn_ = nullptr;
  Report report_;
  zc_waiter* waiter_ = nullptr;
  // Guards waiting_ and ready_, and orders arming against Stop's forgetting:
  // a descriptor is never armed after the JS thread may have closed it.
  std::mutex mu_;
  std::unordered_map<uint64_t, DriverJob*> waiting_;
  // Waiting jobs whose outputs the waiter cannot watch (they never block).
  std::vector<uint64_t> ready_;
  bool stopping_ = false;
  bool hooked_ = false;
  int holds_ = 0;
  std::thread thread_;
};
