// OutputStream: one request's chunks, from the engine thread (the only producer) to one
// consumer (a gRPC reactor or a blocking reader). Either the consumer blocks in Next(), or it
// polls with TakeOrArm() and is called back on the engine thread when data arrives; it never
// blocks the engine. Cancel() asks the engine to abort the request (client disconnect); the
// stream still ends with a final chunk.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>

#include "engine/request.h"

namespace hearth::engine {

class OutputStream {
 public:
  // Engine side.
  void Push(OutputChunk chunk);
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

  // Consumer side, blocking: the next chunk, or nullopt when `timeout` passes first.
  std::optional<OutputChunk> Next(std::chrono::milliseconds timeout = std::chrono::hours(24));
  // Consumer side, non-blocking: everything pending, merged into one chunk; or, when nothing is
  // pending, nullopt and `on_ready` (set once, before the first call) is invoked exactly once
  // on the engine thread at the next Push. Between arming and that call no other TakeOrArm may
  // run, so the callback's owner outlives it as long as it finishes only after the final chunk.
  void SetOnReady(std::function<void()> on_ready) { on_ready_ = std::move(on_ready); }
  std::optional<OutputChunk> TakeOrArm();

  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<OutputChunk> chunks_;
  bool armed_ = false;
  std::function<void()> on_ready_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace hearth::engine
