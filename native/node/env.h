// What one Node environment (the main thread or a worker) keeps: its
// driver, started at the first transfer that needs it, and the objects
// whose jobs it runs, by id, for its reports. addon.cc (Transfer) and
// flow.cc (Flow) share it.
#pragma once

#include <napi.h>
#include <string.h>

#include <memory>
#include <string>
#include <unordered_map>

#include "driver.h"

// An object whose job the driver runs: reports come to it on the JS thread.
class Reported {
 public:
  virtual void OnReport(int result, uint64_t moved) = 0;

 protected:
  ~Reported() = default;
};

struct EnvData {
  std::unique_ptr<Driver> driver;
  std::unordered_map<uint64_t, Reported*> live;
  uint64_t next_id = 1;
  // Where sendNow leaves [result, bytes sent, backend index]: a typed array
  // of the JS side's, so a call returns without making an object.
  Napi::Reference<Napi::Float64Array> now_array;
  double* now_result = nullptr;

  // The driver, started now if it was not; null with the error pending
  // in env when it cannot start (no descriptors left for its waiter).
  Driver* EnsureDriver(Napi::Env env) {
    if (!driver) {
      driver = std::make_unique<Driver>(env, [this](uint64_t id, int result, uint64_t moved) {
        auto it = live.find(id);
        if (it != live.end()) it->second->OnReport(result, moved);
      });
      // Not by a pending exception: a stopping environment drops the throw,
      // and a driver without its waiter or thread must not be used.
      if (!driver->Running()) driver.reset();
    }
    return driver.get();
  }
};

// What a Transfer and a Flow do alike with the driver: while its job may
// run, the object is found by the job's id for the driver's reports, and
// holds the event loop open.
inline void Register(EnvData* data, DriverJob* job, Reported* self) {
  job->id = data->next_id++;
  data->live[job->id] = self;
  data->driver->Hold();
}

inline void Unregister(EnvData* data, const DriverJob& job) {
  if (job.id == 0) return;
  data->live.erase(job.id);
  data->driver->Release();
}

// Calls `callback` with `value` unless it got that value last time.
inline void ReportProgress(Napi::Env env, Napi::FunctionReference& callback, uint64_t* last, uint64_t value) {
  if (value == *last) return;
  *last = value;
  Napi::HandleScope scope(env);
  callback.Call({Napi::Number::New(env, double(value))});
}

// An errno as a JavaScript Error with `errno` and `syscall`, thrown.
inline void ThrowErrno(Napi::Env env, int err, const char* call) {
  Napi::Error e = Napi::Error::New(env, strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, call));
  e.ThrowAsJavaScriptException();
}

// flow.cc: the Flow class, and what each mover does for capabilities().
Napi::Function DefineFlow(Napi::Env env);
Napi::Array MoverCapabilities(Napi::Env env);
