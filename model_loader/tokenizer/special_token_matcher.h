// Finds special-token texts in input, leftmost-longest (as HF's added-token splitter does), and
// cuts the input into text fragments and token ids.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::tokenizer {

struct Fragment {
  std::string_view text;  // when id < 0
  int32_t id = -1;
};

class SpecialTokenMatcher {
 public:
  void Add(std::string_view text, int32_t id);  // `text` must outlive the matcher; "" ignored
  bool empty() const { return count_ == 0; }
  void Split(std::string_view text, std::vector<Fragment>* out) const;

 private:
  struct Entry {
    std::string_view text;
    int32_t id;
  };
  std::array<std::vector<Entry>, 256> by_first_byte_;  // longest first
  size_t count_ = 0;
};

}  // namespace hearth::tokenizer
