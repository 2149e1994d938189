// WorkerPool: threads started on demand, up to a maximum, that retire when idle.
//
// The HTTP API (cpp-httplib) serves each open connection on one worker for the connection's
// whole life, and a streaming request holds its worker until its last token. A fixed pool
// sized for the running sequences left every connection past it waiting unseen (neither served
// nor refused with 429, not counted as waiting) until some stream ended; a fixed pool sized for
// every request the engine can admit would keep ~1300 idle threads by default. This one starts
// a worker when a job finds none idle, up to `max_threads`, and lets a worker that found no job
// for `idle_exit` retire, down to `min_threads`. The gRPC services prepare requests on one too
// (ServiceContext::Prepare), off gRPC's own threads.
//
// Jobs past `max_threads` wait in order (TryRun bounds the wait). Shutdown() runs the jobs
// already queued, then joins every worker; a job submitted after it runs on the caller's
// thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace hearth::server {

class WorkerPool {
 public:
  WorkerPool(size_t min_threads, size_t max_threads, std::chrono::milliseconds idle_exit);
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool();  // Shutdown()

  void Run(std::function<void()> job);
  // Run, unless `max_queued` jobs already wait for a worker: then false, and the job is dropped.
  bool TryRun(std::function<void()> job, size_t max_queued);
  void Shutdown();  // idempotent

  struct Stats {
    size_t threads = 0;  // workers alive
    size_t idle = 0;     // of them, waiting for a job (or starting)
    size_t queued = 0;   // jobs waiting for a worker
    size_t peak = 0;     // most workers alive at once
  };
  Stats stats() const;

 private:
  void Work();
  size_t Alive() const { return threads_.size() - retired_.size(); }  // under mu_
  // Takes the workers that retired (to be joined outside the lock).
  void TakeRetired(std::vector<std::thread>& out);

  const size_t min_threads_, max_threads_;
  const std::chrono::milliseconds idle_exit_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::unordered_map<std::thread::id, std::thread> threads_;
  std::vector<std::thread::id> retired_;  // exited workers not yet joined
  size_t idle_ = 0, peak_ = 0;
  bool shutdown_ = false;
};

}  // namespace hearth::server
