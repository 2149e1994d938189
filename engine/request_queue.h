// RequestQueue: the only way into the engine thread. Any thread pushes new requests and aborts;
// the engine thread takes everything between steps. Closing it (shutdown) makes later pushes
// fail. The bound on waiting requests is enforced by Engine::Submit, which knows how many
// requests are admitted but not yet scheduled; aborts are never refused.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/output_stream.h"
#include "engine/request.h"

namespace hearth::engine {

struct EngineCommand {
  enum class Kind { kAdd, kAbort };
  Kind kind = Kind::kAdd;
  EngineRequest request;                 // kAdd
  std::shared_ptr<OutputStream> stream;  // kAdd
  Clock::time_point arrival;             // kAdd
  std::string request_id;                // kAbort
};

class RequestQueue {
 public:
  // False once closed.
  bool Push(EngineCommand command);
  // Everything queued; waits up to `wait` while empty and open.
  std::vector<EngineCommand> TakeAll(std::chrono::milliseconds wait);
  void Close();
  bool closed() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<EngineCommand> items_;
  bool closed_ = false;
};

}  // namespace hearth::engine
