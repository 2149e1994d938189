#include "tests/server/fake_text_codec.h"

#include <utility>

namespace hearth::testing {
namespace {

// Length of the UTF-8 sequence a lead byte starts (1 for ASCII and for invalid bytes).
int Utf8Length(unsigned char c) {
  if (c >= 0xF0 && c < 0xF8) return 4;
  if (c >= 0xE0) return c < 0xF0 ? 3 : 1;
  if (c >= 0xC0) return 2;
  return 1;
}

class FakeStreamDecoder : public engine::TokenStreamDecoder {
 public:
  explicit FakeStreamDecoder(bool skip_special) : skip_special_(skip_special) {}
  std::string Push(int32_t id) override {
    if (id >= FakeTextCodec::kBos) {
      if (!skip_special_) pending_ += id == FakeTextCodec::kBos ? "<s>" : "</s>";
    } else if (id >= 0) {
      pending_.push_back(static_cast<char>(id));
    }
    // Emit every complete character; keep an incomplete tail.
    size_t i = 0;
    size_t complete = 0;
    while (i < pending_.size()) {
      const size_t n = Utf8Length(static_cast<unsigned char>(pending_[i]));
      if (i + n > pending_.size()) break;
      i += n;
      complete = i;
    }
    std::string out = pending_.substr(0, complete);
    pending_.erase(0, complete);
    return out;
  }
  std::string Flush() override { return std::exchange(pending_, {}); }

 private:
  bool skip_special_;
  std::string pending_;
};

}  // namespace

std::vector<int32_t> FakeTextCodec::Encode(std::string_view text, bool add_special,
                                           bool parse_special) const {
  std::vector<int32_t> ids;
  if (add_special) ids.push_back(kBos);
  for (size_t i = 0; i < text.size(); ++i) {
    if (parse_special && text.substr(i, 3) == "<s>") {
      ids.push_back(kBos);
      i += 2;
    } else if (parse_special && text.substr(i, 4) == "</s>") {
      ids.push_back(kEos);
      i += 3;
    } else {
      ids.push_back(static_cast<unsigned char>(text[i]));
    }
  }
  return ids;
}

std::string FakeTextCodec::Decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= kVocabSize) continue;
    if (id >= kBos) {
      if (!skip_special) out += TokenText(id);
    } else {
      out.push_back(static_cast<char>(id));
    }
  }
  return out;
}

std::string FakeTextCodec::TokenText(int32_t id) const {
  if (id == kBos) return "<s>";
  if (id == kEos) return "</s>";
  if (id < 0 || id >= kVocabSize) return "";
  return std::string(1, static_cast<char>(id));
}

std::unique_ptr<engine::TokenStreamDecoder> FakeTextCodec::NewStreamDecoder(
    bool skip_special, bool /*sequence_start*/) const {
  return std::make_unique<FakeStreamDecoder>(skip_special);
}

Result<std::string> FakeTextCodec::RenderChat(std::span<const engine::ChatTurn> turns,
                                              std::span<const std::string> /*tools_json*/,
                                              bool add_generation_prompt) const {
  std::string out;
  for (const engine::ChatTurn& t : turns) out += t.role + ": " + t.content + "\n";
  if (add_generation_prompt) out += "assistant:";
  return out;
}

}  // namespace hearth::testing
