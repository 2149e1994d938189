#include "model_loader/tokenizer/special_token_matcher.h"

#include <algorithm>

namespace hearth::tokenizer {

void SpecialTokenMatcher::Add(std::string_view text, int32_t id) {
  if (text.empty()) return;
  auto& bucket = by_first_byte_[static_cast<unsigned char>(text[0])];
  for (const Entry& e : bucket) {
    if (e.text == text) return;  // keep the first id for a duplicated text
  }
  bucket.push_back({text, id});
  std::stable_sort(bucket.begin(), bucket.end(),
                   [](const Entry& a, const Entry& b) { return a.text.size() > b.text.size(); });
  ++count_;
}

void SpecialTokenMatcher::Split(std::string_view text, std::vector<Fragment>* out) const {
  size_t text_start = 0;
  for (size_t pos = 0; pos < text.size();) {
    const Entry* match = nullptr;
    for (const Entry& e : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
      if (text.substr(pos, e.text.size()) == e.text) {
        match = &e;
        break;
      }
    }
    if (match == nullptr) {
      ++pos;
      continue;
    }
    if (pos > text_start) out->push_back({text.substr(text_start, pos - text_start), -1});
    out->push_back({{}, match->id});
    pos += match->text.size();
    text_start = pos;
  }
  if (text_start < text.size()) out->push_back({text.substr(text_start), -1});
}

}  // namespace hearth::tokenizer
