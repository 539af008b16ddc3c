// The harness's side of fake_napi.cc: run the "JS thread's" share of the
// threadsafe function. Test code: never shipped.
#pragma once

#include <node_api.h>

// Hands what the driver posted to call_js, waiting up to timeout_ms for
// something to arrive; returns how many calls it made.
int fake_napi_drain(napi_env env, int timeout_ms);
