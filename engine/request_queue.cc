#include "engine/request_queue.h"

namespace hearth::engine {

bool RequestQueue::Push(EngineCommand command) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    items_.push_back(std::move(command));
  }
  cv_.notify_one();
  return true;
}

std::vector<EngineCommand> RequestQueue::TakeAll(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, wait, [&] { return !items_.empty() || closed_; });
  return std::exchange(items_, {});
}

void RequestQueue::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool RequestQueue::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

}  // namespace hearth::engine
