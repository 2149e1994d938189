#include "engine/output_stream.h"

namespace hearth::engine {

void MergeChunk(OutputChunk& into, OutputChunk&& next) {
  into.text += next.text;
  into.token_ids.insert(into.token_ids.end(), next.token_ids.begin(), next.token_ids.end());
  for (auto& lp : next.logprobs) into.logprobs.push_back(std::move(lp));
  if (next.final) {
    std::string text = std::move(into.text);
    std::vector<int32_t> ids = std::move(into.token_ids);
    std::vector<TokenLogprobs> lps = std::move(into.logprobs);
    into = std::move(next);
    into.text = std::move(text);
    into.token_ids = std::move(ids);
    into.logprobs = std::move(lps);
  }
}

void OutputStream::Push(OutputChunk chunk) {
  std::function<void()> on_ready;
  {
    std::lock_guard lock(mu_);
    chunks_.push_back(std::move(chunk));
    if (std::exchange(armed_, false)) on_ready = on_ready_;
  }
  cv_.notify_one();
  // Outside the lock (the callback takes the data with TakeOrArm), and from a copy: the
  // callback may end the consumer that owns this stream.
  if (on_ready) on_ready();
}

std::optional<OutputChunk> OutputStream::Next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !chunks_.empty(); })) return std::nullopt;
  OutputChunk chunk = std::move(chunks_.front());
  chunks_.pop_front();
  return chunk;
}

std::optional<OutputChunk> OutputStream::TakeOrArm() {
  std::lock_guard lock(mu_);
  if (chunks_.empty()) {
    armed_ = true;
    return std::nullopt;
  }
  OutputChunk out = std::move(chunks_.front());
  chunks_.pop_front();
  while (!chunks_.empty()) {
    MergeChunk(out, std::move(chunks_.front()));
    chunks_.pop_front();
  }
  return out;
}

}  // namespace hearth::engine
