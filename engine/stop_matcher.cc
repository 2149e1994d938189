#include "engine/stop_matcher.h"

#include <algorithm>
#include <utility>

namespace hearth::engine {

StopMatcher::Step StopMatcher::Add(std::string_view text) {
  Step step;
  if (matched_) return step;
  held_.append(text);
  if (stops_.empty()) {
    step.text = std::exchange(held_, {});
    return step;
  }
  // Earliest match wins; at one position the longest stop string (the client named both).
  size_t best = std::string::npos;
  const std::string* best_stop = nullptr;
  for (const std::string& stop : stops_) {
    if (stop.empty()) continue;
    const size_t pos = held_.find(stop);
    if (pos == std::string::npos) continue;
    if (pos < best || (pos == best && stop.size() > best_stop->size())) {
      best = pos;
      best_stop = &stop;
    }
  }
  if (best_stop != nullptr) {
    matched_ = true;
    step.matched = true;
    step.stop = *best_stop;
    step.text = held_.substr(0, best);
    held_.clear();
    return step;
  }
  // Hold back the longest tail that is a proper prefix of some stop string. Stop strings begin
  // on a character boundary, so the cut does too.
  size_t keep = 0;
  for (const std::string& stop : stops_) {
    const size_t max_len = std::min(stop.size() - (stop.empty() ? 0 : 1), held_.size());
    for (size_t len = max_len; len > keep; --len) {
      if (std::string_view(held_).substr(held_.size() - len) ==
          std::string_view(stop).substr(0, len)) {
        keep = len;
        break;
      }
    }
  }
  step.text = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return step;
}

std::string StopMatcher::Flush() {
  if (matched_) return {};
  return std::exchange(held_, {});
}

}  // namespace hearth::engine
