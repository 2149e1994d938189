#include "server/worker_pool.h"

#include <algorithm>
#include <limits>

namespace hearth::server {

WorkerPool::WorkerPool(size_t min_threads, size_t max_threads, std::chrono::milliseconds idle_exit)
    : min_threads_(std::min(min_threads, std::max<size_t>(max_threads, 1))),
      max_threads_(std::max<size_t>(max_threads, 1)),
      idle_exit_(idle_exit) {}

WorkerPool::~WorkerPool() { Shutdown(); }

void WorkerPool::TakeRetired(std::vector<std::thread>& out) {
  for (const std::thread::id& id : retired_) {
    auto it = threads_.find(id);
    out.push_back(std::move(it->second));
    threads_.erase(it);
  }
  retired_.clear();
}

void WorkerPool::Run(std::function<void()> job) {
  (void)TryRun(std::move(job), std::numeric_limits<size_t>::max());
}

bool WorkerPool::TryRun(std::function<void()> job, size_t max_queued) {
  std::vector<std::thread> exited;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (shutdown_) {
      lock.unlock();
      job();
      return true;
    }
    // Jobs that idle workers are about to take do not wait.
    const size_t waiting = jobs_.size() > idle_ ? jobs_.size() - idle_ : 0;
    if (waiting >= max_queued && Alive() >= max_threads_) return false;
    jobs_.push_back(std::move(job));
    // Workers that are starting count as idle, so a burst starts one worker per job.
    if (idle_ < jobs_.size() && Alive() < max_threads_) {
      ++idle_;
      std::thread t([this] { Work(); });  // it takes mu_ first: it is in threads_ by then
      threads_.emplace(t.get_id(), std::move(t));
      peak_ = std::max(peak_, Alive());
    }
    TakeRetired(exited);
  }
  cv_.notify_one();
  for (std::thread& t : exited) t.join();  // each has returned or is returning
  return true;
}

void WorkerPool::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {  // idle_ counts this worker here
    const bool woken =
        cv_.wait_for(lock, idle_exit_, [this] { return !jobs_.empty() || shutdown_; });
    if (!jobs_.empty()) {
      --idle_;
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      job = nullptr;  // what it holds is released outside the lock
      lock.lock();
      ++idle_;
      continue;
    }
    if (shutdown_ || (!woken && Alive() > min_threads_)) {
      --idle_;
      if (!shutdown_) retired_.push_back(std::this_thread::get_id());
      return;
    }
  }
}

void WorkerPool::Shutdown() {
  std::vector<std::thread> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
    for (auto& [id, t] : threads_) all.push_back(std::move(t));
    threads_.clear();
    retired_.clear();
  }
  cv_.notify_all();
  for (std::thread& t : all) t.join();
}

WorkerPool::Stats WorkerPool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {Alive(), idle_, jobs_.size(), peak_};
}

}  // namespace hearth::server
