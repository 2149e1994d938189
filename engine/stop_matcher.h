// StopMatcher: finds stop strings in streamed text across token boundaries and holds back any
// tail that could still become the start of one, so text past a stop string is never streamed.
// Pure and single-threaded (one per request, on the engine thread).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hearth::engine {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  struct Step {
    std::string text;      // safe to stream now
    bool matched = false;  // a stop string was found; `text` ends just before it
    std::string stop;      // the stop string found
  };
  // Adds newly decoded text. After a match, further calls return nothing.
  Step Add(std::string_view text);
  // End of the stream without a match: the held-back text.
  std::string Flush();

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool matched_ = false;
};

}  // namespace hearth::engine
