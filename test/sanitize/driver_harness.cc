// The driver thread (native/node/driver.cc) and the shared loop under
// ThreadSanitizer, outside Node (which cannot run under TSan), over a fake
// Node-API (fake_napi.cc) whose threadsafe function hands the driver's
// reports to this program's main thread, as Node hands them to the JS
// thread. Transfers on every backend run to socket pairs whose far ends are
// read by threads of their own at different speeds; the main thread starts
// them, stops some at random moments (Stop, as abort() does) and ends each
// when its outcome arrives, as addon.cc does. Every completed transfer must
// deliver exactly its bytes, every stopped one a true prefix.
//
//   driver_harness [transfers]      exits 0, or 1 with what went wrong
//
// Test code: never shipped. Built and run by scripts/test-sanitizers.js.
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../native/node/driver.h"
#include "fake_napi.h"

namespace {

constexpr size_t kFileSize = 3 << 20;
constexpr int kConcurrent = 24;
const char* const kBackends[] = {"sendfile", "mmap", "readwrite"};

struct Live {
  DriverJob job;
  zc_transfer t{};
  int peer = -1;
  std::string headers, trailers;
  struct iovec header_iov{}, trailer_iov{};
  std::string expected;
  std::string received;
  std::thread reader;
  bool stop_requested = false;
};

int failures = 0;

void fail(const std::string& what) {
  if (failures++ < 20) fprintf(stderr, "FAIL %s\n", what.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int total = argc > 1 ? atoi(argv[1]) : 300;
  std::mt19937_64 rng(argc > 2 ? strtoull(argv[2], nullptr, 10) : 1);
  auto pick = [&rng](uint64_t n) { return n == 0 ? 0 : rng() % n; };

  char path[] = "/tmp/zc-driver-harness-XXXXXX";
  int file = mkstemp(path);
  std::string content(kFileSize, '\0');
  for (auto& c : content) c = char(rng());
  if (file < 0 || write(file, content.data(), content.size()) != (ssize_t)content.size()) return perror("file"), 1;
  unlink(path);

  int env_placeholder = 0;
  napi_env env = reinterpret_cast<napi_env>(&env_placeholder);
  std::map<uint64_t, std::unique_ptr<Live>> live;
  int finished = 0, completed = 0, stopped = 0;

  // Ended transfers whose far ends are still reading: checked once the reader is done.
  std::vector<std::pair<std::unique_ptr<Live>, int>> ending;
  auto check = [&](Live& l, int result) {
    l.reader.join();
    std::string what = "transfer " + std::to_string(l.job.id) + " (" + l.t.backend->name + ")";
    if (result == 0) {
      completed++;
      if (l.received != l.expected) fail(what + ": completed, but not its bytes");
      if (l.t.sent != l.expected.size()) fail(what + ": sent " + std::to_string(l.t.sent));
    } else if (result == ECANCELED && l.stop_requested) {
      stopped++;
      if (l.expected.compare(0, l.received.size(), l.received) != 0) fail(what + ": stopped, but not a true prefix");
    } else {
      fail(what + ": ended with " + std::to_string(result));
    }
  };
  auto finish = [&](uint64_t id, int result) {
    auto it = live.find(id);
    if (it == live.end()) return fail("an outcome for a transfer not live: " + std::to_string(id));
    Live& l = *it->second;
    const zc_backend* backend = l.t.backend;
    // The driver ends what it reports an outcome for; a stopped one is ours.
    if (!l.job.ended) zc_end(&l.t);
    l.t.backend = backend;  // for the report
    close(l.t.out_fd);
    close(l.t.in_fd);
    finished++;
    ending.emplace_back(std::move(it->second), result);
    live.erase(it);
  };

  auto driver = std::make_unique<Driver>(Napi::Env(env), [&](uint64_t id, int result, uint64_t) {
    if (result != EINPROGRESS) finish(id, result);
  });

  auto start = [&](uint64_t id) {
    auto l = std::make_unique<Live>();
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return perror("socketpair"), exit(1);
    fcntl(pair[0], F_SETFL, fcntl(pair[0], F_GETFL) | O_NONBLOCK);
    l->peer = pair[1];
    l->t.out_fd = pair[0];
    l->t.in_fd = dup(file);
    l->t.offset = pick(kFileSize);
    l->t.remaining = pick(kFileSize - l->t.offset + 1);
    l->headers.assign(pick(300), 'h');
    l->trailers.assign(pick(300), 't');
    l->header_iov = {l->headers.data(), l->headers.size()};
    l->trailer_iov = {l->trailers.data(), l->trailers.size()};
    if (!l->headers.empty()) l->t.headers = &l->header_iov, l->t.nheaders = 1;
    if (!l->trailers.empty()) l->t.trailers = &l->trailer_iov, l->t.ntrailers = 1;
    l->expected = l->headers + content.substr(l->t.offset, l->t.remaining) + l->trailers;
    if (int err = zc_classify_output(l->t.out_fd, &l->t.out_kind)) return fail("classify: " + std::to_string(err));
    if (int err = zc_begin(&l->t, zc_find_backend(kBackends[id % 3]))) return fail("begin: " + std::to_string(err));
    // The far end: reads in bursts, with pauses of up to 2 ms between them.
    unsigned pause_us = unsigned(pick(4)) * 700;
    l->reader = std::thread([peer = l->peer, received = &l->received, pause_us] {
      char buf[65536];
      for (;;) {
        ssize_t n = read(peer, buf, sizeof buf);
        if (n <= 0) break;
        received->append(buf, size_t(n));
        if (pause_us) usleep(pause_us);
      }
      close(peer);
    });
    l->job.id = id;
    l->job.t = &l->t;
    Live* raw = l.get();
    live[id] = std::move(l);
    if (int err = driver->Drive(&raw->job)) return fail("drive: " + std::to_string(err));
    // A third are stopped soon after they start, while the driver has them.
    if (pick(3) == 0) {
      if (pick(2)) std::this_thread::sleep_for(std::chrono::microseconds(pick(500)));
      raw->stop_requested = true;
      if (driver->Stop(&raw->job)) finish(id, ECANCELED);
    }
  };

  uint64_t next = 1;
  while (finished < total) {
    while (next <= uint64_t(total) && live.size() < kConcurrent) start(next++);
    // Stop one at a random moment, as abort() or a closed socket does.
    if (!live.empty() && pick(10) == 0) {
      auto it = live.begin();
      std::advance(it, pick(live.size()));
      Live& l = *it->second;
      if (!l.stop_requested) {
        l.stop_requested = true;
        if (driver->Stop(&l.job)) finish(l.job.id, ECANCELED);
      }
    }
    fake_napi_drain(env, pick(3));
  }
  driver.reset();
  for (auto& [l, result] : ending) check(*l, result);
  close(file);
  printf("driver harness: %d transfers, %d completed, %d stopped, %d failures\n", finished, completed, stopped, failures);
  return failures ? 1 : 0;
}
