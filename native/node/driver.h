// Drives transfers to sockets and pipes on a thread of its own: it waits
// through the system's readiness interface (waiter.h: epoll, kqueue, ...)
// until an output can take more (or, for a receive or a relay, an input has
// more), runs the transfer's steps right there, and reports to the JS
// thread. Neither the event loop nor a threadpool thread
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

#include "../flow.h"
#include "../waiter.h"
#include "../zerocopy.h"

// One job: a transfer (sendFile), or the flows of a receive or a relay.
struct DriverJob {
  uint64_t id = 0;
  zc_transfer* t = nullptr;  // begun (zc_begin): it knows its backend
  zc_relay* r = nullptr;     // or flows, begun (zc_flow_begin)
  std::atomic<bool> aborted{false};
  // Bytes moved so far, as of the last run: for the JS thread to read
  // while the driver runs the job.
  std::atomic<uint64_t> moved{0};
  // Which of the job's descriptors (in the order Waits lists them) the
  // waiter has registered: arming those again is a change, not an add.
  unsigned registered = 0;
  // What each descriptor is armed for, and which were reported (fired) since the
  // last arming: one armed for the same events and not reported is armed
  // still, and arming it again would be a system call for nothing.
  unsigned armed[4] = {0, 0, 0, 0};
  unsigned fired = 0;
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
  // Waits for what the job waits for (a transfer's output; a flow's input
  // or output), under mu_. Returns 0 or an errno.
  int Arm(DriverJob* job, bool again);
  // Forgets every descriptor the job may have armed, under mu_.
  void Forget(DriverJob* job);
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
