#include "driver.h"

#include <errno.h>
#include <string.h>

#include <chrono>

namespace {

// Bytes one step run may move before the driver turns to other transfers.
constexpr uint64_t kRunBudget = 32ull << 20;

// Progress reports wake the event loop; they refresh idle timers and feed
// progress displays, for which a few a second are plenty.
constexpr auto kReportEvery = std::chrono::milliseconds(100);

// Reports taken from the waiter per wake-up.
constexpr int kBatch = 64;

// A report's token: the job's id and which of its descriptors (a slot, in
// the order Waits lists them; kAllSlots for a job stepped without one).
constexpr unsigned kSlotBits = 3;
constexpr unsigned kAllSlots = 7;
uint64_t Token(uint64_t id, unsigned slot) { return (id << kSlotBits) | slot; }

int RunJob(DriverJob* job, uint64_t budget) {
  return job->t ? zc_run(job->t, budget) : zc_relay_run(job->r, budget);
}

uint64_t Moved(const DriverJob* job) {
  return job->t ? job->t->sent : zc_relay_moved(job->r);
}

int Waits(const DriverJob* job, int fds[4], unsigned events[4]);

// Tells a relay's loop which of its descriptors were reported ready: a
// flow waiting for none of them is left alone.
void Ready(DriverJob* job, unsigned slots) {
  int fds[4];
  unsigned events[4];
  int n = Waits(job, fds, events);
  zc_relay* r = job->r;
  r->nready = slots == ~0u ? -1 : 0;
  for (int i = 0; i < n && r->nready >= 0; i++)
    if (slots & (1u << i)) r->ready_fds[r->nready++] = fds[i];
}

// Here, not on the JS thread: ending unmaps the mmap backend's window and
// frees readwrite's buffer, and munmap waits for every CPU that runs one
// of our threads to flush its TLB.
void EndJob(DriverJob* job) {
  if (job->t) {
    zc_end(job->t);
    return;
  }
  zc_relay_end(job->r);
}

// What the job waits for: its descriptors, one entry each, always in the
// same order (a finished flow's with no events), and their events. Returns
// how many.
int Waits(const DriverJob* job, int fds[4], unsigned events[4]) {
  if (job->t) {
    fds[0] = job->t->out_fd;
    events[0] = ZC_WAIT_WRITE;
    return 1;
  }
  int n = 0;
  auto add = [&](int fd, unsigned event) {
    for (int i = 0; i < n; i++)
      if (fds[i] == fd) {
        events[i] |= event;
        return;
      }
    fds[n] = fd;
    events[n++] = event;
  };
  for (int i = 0; i < job->r->nflows; i++) {
    const zc_flow& f = job->r->flows[i];
    bool waits = !f.finished;
    add(f.in_fd, waits ? f.wait_in : 0);
    add(f.out_fd, waits ? f.wait_out : 0);
  }
  return n;
}

}  // namespace

Driver::Driver(Napi::Env env, Report report)
    : env_(env), report_(std::move(report)) {
  waiter_ = zc_waiter_open();
  if (!waiter_) {
    // With errno and syscall, so the caller gets EMFILE (say) like any
    // other system error, not a message alone.
    int err = errno;
    Napi::Error e = Napi::Error::New(env, std::string("zerocopy: cannot open the driver's ") + zc_waiter_name + ": " + strerror(err));
    e.Set("errno", Napi::Number::New(env, err));
    e.Set("syscall", Napi::String::New(env, zc_waiter_name));
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
  if (waiter_) zc_waiter_close(waiter_);
}

void Driver::Shutdown(void* self) {
  auto* d = static_cast<Driver*>(self);
  d->hooked_ = false;
  {
    std::lock_guard<std::mutex> lock(d->mu_);
    d->stopping_ = true;
  }
  zc_waiter_wake(d->waiter_);
  if (d->thread_.joinable()) d->thread_.join();
  if (d->tsfn_) napi_release_threadsafe_function(d->tsfn_, napi_tsfn_abort);
  d->tsfn_ = nullptr;
}

int Driver::Arm(DriverJob* job, bool again) {
  int fds[4];
  unsigned events[4];
  int n = Waits(job, fds, events);
  bool armed = false, now = false;
  for (int i = 0; i < n; i++) {
    // Reported since it was armed: not armed any more.
    if (job->fired & (1u << i)) job->armed[i] = 0;
    if (events[i] == 0) continue;
    // Armed for these events already, and not reported since: armed still
    // (EPOLLONESHOT and its kind disarm only what they report).
    if (job->armed[i] == events[i]) {
      armed = true;
      continue;
    }
    // A transfer's one output is registered from its first arming on.
    bool known = job->t ? again : (job->registered & (1u << i)) != 0;
    int err = zc_waiter_arm(waiter_, fds[i], Token(job->id, i), events[i], known);
    if (err == 0) job->registered |= 1u << i;
    job->armed[i] = err == 0 ? events[i] : 0;
    // A descriptor that never blocks (a device such as /dev/null): step
    // the job now.
    if (err == EPERM) now = true;
    else if (err != 0) return err;
    else armed = true;
  }
  job->fired = 0;
  // Waiting for nothing would be waiting forever: that job is stepped too.
  if (armed && !now) return 0;
  ready_.push_back(Token(job->id, kAllSlots));
  zc_waiter_wake(waiter_);
  return 0;
}

void Driver::Forget(DriverJob* job) {
  if (job->t) {
    zc_waiter_forget(waiter_, job->t->out_fd);
    return;
  }
  // Only what was registered: each forget is a system call.
  int fds[4];
  unsigned events[4];
  int n = Waits(job, fds, events);
  for (int i = 0; i < n; i++)
    if (job->registered & (1u << i)) zc_waiter_forget(waiter_, fds[i]);
  job->registered = 0;
  for (unsigned& a : job->armed) a = 0;
}

int Driver::Drive(DriverJob* job) {
  std::lock_guard<std::mutex> lock(mu_);
  job->fired = ~0u;  // nothing armed yet
  int err = Arm(job, false);
  if (err == 0) waiting_[job->id] = job;
  return err;
}

bool Driver::Stop(DriverJob* job) {
  std::lock_guard<std::mutex> lock(mu_);
  job->aborted = true;
  // Not waiting: a step is running, or its outcome is already on its way.
  if (waiting_.erase(job->id) == 0) return false;
  // Before the JS thread closes our duplicate: some interfaces would keep
  // watching the connection through Node's own descriptor.
  Forget(job);
  return true;
}

void Driver::Hold() {
  if (holds_++ == 0 && tsfn_) napi_ref_threadsafe_function(env_, tsfn_);
}

void Driver::Release() {
  if (--holds_ == 0 && tsfn_) napi_unref_threadsafe_function(env_, tsfn_);
}

void Driver::Post(uint64_t id, int result, uint64_t sent) {
  napi_call_threadsafe_function(tsfn_, new Message{id, result, sent},
                                napi_tsfn_nonblocking);
}

void Driver::Run() {
  uint64_t tokens[kBatch];
  // Each job reported, once, with the slots (its descriptors, in the order
  // Waits lists them) that were.
  std::vector<std::pair<uint64_t, unsigned>> reports;
  for (;;) {
    int n = zc_waiter_wait(waiter_, tokens, kBatch);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      reports.clear();
      auto add = [&](uint64_t token) {
        uint64_t id = token >> kSlotBits;
        unsigned slot = unsigned(token & ((1u << kSlotBits) - 1));
        unsigned mask = slot == kAllSlots ? ~0u : 1u << slot;
        for (auto& r : reports)
          if (r.first == id) {
            r.second |= mask;
            return;
          }
        reports.emplace_back(id, mask);
      };
      for (int i = 0; i < n; i++) add(tokens[i]);
      for (uint64_t token : ready_) add(token);
      ready_.clear();
    }
    // Each job is ready (writable, readable), or has an error or hang-up
    // the next call reports; or it is a report left over from an arming
    // since replaced, and the run finds nothing to do.
    for (auto [id, slots] : reports) {
      DriverJob* job;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = waiting_.find(id);
        if (it == waiting_.end()) continue;  // stopped while we waited
        job = it->second;
        waiting_.erase(it);
        job->fired |= slots;
      }
      if (job->r) Ready(job, slots);
      uint64_t before = Moved(job);
      int r = job->aborted ? ECANCELED : RunJob(job, kRunBudget);
      uint64_t sent = Moved(job);
      job->moved.store(sent, std::memory_order_relaxed);
      std::lock_guard<std::mutex> lock(mu_);
      if (job->aborted) r = ECANCELED;
      if (r == EAGAIN || r == EINPROGRESS) {
        // Over budget (EINPROGRESS) the job is still ready: armed again, it
        // is reported at once, behind the others that are ready.
        r = Arm(job, true);
        if (r == 0) {
          waiting_[job->id] = job;
          auto now = std::chrono::steady_clock::now();
          if (sent != before && now - job->reported >= kReportEvery) {
            job->reported = now;
            Post(job->id, EINPROGRESS, sent);
          }
          continue;
        }
      }
      Forget(job);
      EndJob(job);
      job->ended = true;
      Post(job->id, r, sent);
    }
  }
}

void Driver::CallJs(napi_env env, napi_value, void* context, void* data) {
  std::unique_ptr<Message> m(static_cast<Message*>(data));
  // env is null while the environment tears down: nothing to report then.
  if (env == nullptr) return;
  static_cast<Driver*>(context)->report_(m->id, m->result, m->sent);
}
