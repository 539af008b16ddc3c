// Just enough of Node-API for native/node/driver.cc to run outside Node, in
// the ThreadSanitizer harness (driver_harness.cc): Node itself cannot run
// under TSan. The threadsafe function is the part that matters, and it
// behaves as Node's does: calls from any thread queue their data, and the
// "JS thread" (the harness's main thread, in fake_napi_drain) hands each to
// call_js; released with napi_tsfn_abort, what is left goes to call_js with
// a null env, as Node's teardown does. Everything else succeeds and returns
// placeholders: the harness never takes the error paths that would read
// them. Test code: never shipped.
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "fake_napi.h"

struct napi_threadsafe_function__ {
  napi_threadsafe_function_call_js call_js;
  void* context;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<void*> queue;
  bool released = false;
};

namespace {
napi_threadsafe_function__* the_tsfn = nullptr;
napi_extended_error_info no_error{};
int placeholder;
napi_value value() { return reinterpret_cast<napi_value>(&placeholder); }
}  // namespace

int fake_napi_drain(napi_env env, int timeout_ms) {
  napi_threadsafe_function__* f = the_tsfn;
  if (!f) return 0;
  std::deque<void*> batch;
  {
    std::unique_lock<std::mutex> lock(f->mu);
    f->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [f] { return !f->queue.empty(); });
    batch.swap(f->queue);
  }
  for (void* data : batch) f->call_js(env, nullptr, f->context, data);
  return (int)batch.size();
}

extern "C" {

napi_status napi_create_threadsafe_function(napi_env, napi_value, napi_value, napi_value, size_t, size_t, void*,
                                            napi_finalize, void* context, napi_threadsafe_function_call_js call_js,
                                            napi_threadsafe_function* result) {
  the_tsfn = new napi_threadsafe_function__{call_js, context};
  *result = the_tsfn;
  return napi_ok;
}

napi_status napi_call_threadsafe_function(napi_threadsafe_function f, void* data, napi_threadsafe_function_call_mode) {
  std::lock_guard<std::mutex> lock(f->mu);
  if (f->released) return napi_closing;
  f->queue.push_back(data);
  f->cv.notify_one();
  return napi_ok;
}

napi_status napi_release_threadsafe_function(napi_threadsafe_function f, napi_threadsafe_function_release_mode) {
  std::deque<void*> left;
  {
    std::lock_guard<std::mutex> lock(f->mu);
    f->released = true;
    left.swap(f->queue);
  }
  for (void* data : left) f->call_js(nullptr, nullptr, f->context, data);
  if (the_tsfn == f) the_tsfn = nullptr;
  delete f;
  return napi_ok;
}

napi_status napi_ref_threadsafe_function(node_api_basic_env, napi_threadsafe_function) { return napi_ok; }
napi_status napi_unref_threadsafe_function(node_api_basic_env, napi_threadsafe_function) { return napi_ok; }
napi_status napi_add_env_cleanup_hook(node_api_basic_env, napi_cleanup_hook, void*) { return napi_ok; }
napi_status napi_remove_env_cleanup_hook(node_api_basic_env, napi_cleanup_hook, void*) { return napi_ok; }

napi_status napi_get_last_error_info(node_api_basic_env, const napi_extended_error_info** result) {
  *result = &no_error;
  return napi_ok;
}
napi_status napi_is_exception_pending(napi_env, bool* result) {
  *result = false;
  return napi_ok;
}
napi_status napi_get_and_clear_last_exception(napi_env, napi_value* result) {
  *result = value();
  return napi_ok;
}
napi_status napi_throw(napi_env, napi_value) { return napi_ok; }
void napi_fatal_error(const char*, size_t, const char* message, size_t) {
  fprintf(stderr, "fake napi: fatal error: %s\n", message);
  abort();
}

// The calls that only make a value: a placeholder.
napi_status napi_create_string_utf8(napi_env, const char*, size_t, napi_value* result) { return *result = value(), napi_ok; }
napi_status napi_create_double(napi_env, double, napi_value* result) { return *result = value(), napi_ok; }
napi_status napi_create_object(napi_env, napi_value* result) { return *result = value(), napi_ok; }
napi_status napi_create_error(napi_env, napi_value, napi_value, napi_value* result) { return *result = value(), napi_ok; }
napi_status napi_create_type_error(napi_env, napi_value, napi_value, napi_value* result) { return *result = value(), napi_ok; }
napi_status napi_get_property(napi_env, napi_value, napi_value, napi_value* result) { return *result = value(), napi_ok; }
napi_status napi_get_reference_value(napi_env, napi_ref, napi_value* result) { return *result = value(), napi_ok; }
napi_status napi_escape_handle(napi_env, napi_escapable_handle_scope, napi_value, napi_value* result) { return *result = value(), napi_ok; }
napi_status napi_call_function(napi_env, napi_value, napi_value, size_t, const napi_value*, napi_value* result) { return *result = value(), napi_ok; }

napi_status napi_set_named_property(napi_env, napi_value, const char*, napi_value) { return napi_ok; }
napi_status napi_define_properties(napi_env, napi_value, size_t, const napi_property_descriptor*) { return napi_ok; }
napi_status napi_has_property(napi_env, napi_value, napi_value, bool* result) {
  *result = false;
  return napi_ok;
}
napi_status napi_typeof(napi_env, napi_value, napi_valuetype* result) {
  *result = napi_object;
  return napi_ok;
}
napi_status napi_create_reference(napi_env, napi_value, uint32_t, napi_ref* result) {
  *result = reinterpret_cast<napi_ref>(&placeholder);
  return napi_ok;
}
napi_status napi_delete_reference(node_api_basic_env, napi_ref) { return napi_ok; }
napi_status napi_open_handle_scope(napi_env, napi_handle_scope* result) {
  *result = reinterpret_cast<napi_handle_scope>(&placeholder);
  return napi_ok;
}
napi_status napi_close_handle_scope(napi_env, napi_handle_scope) { return napi_ok; }
napi_status napi_open_escapable_handle_scope(napi_env, napi_escapable_handle_scope* result) {
  *result = reinterpret_cast<napi_escapable_handle_scope>(&placeholder);
  return napi_ok;
}
napi_status napi_close_escapable_handle_scope(napi_env, napi_escapable_handle_scope) { return napi_ok; }
napi_status napi_close_callback_scope(napi_env, napi_callback_scope) { return napi_ok; }
napi_status napi_async_destroy(napi_env, napi_async_context) { return napi_ok; }

}  // extern "C"
