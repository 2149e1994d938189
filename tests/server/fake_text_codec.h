// A byte-level TextCodec for tests: token id = byte value (0..255), 256 = BOS "<s>",
// 257 = EOS "</s>". Its stream decoder holds back incomplete UTF-8 sequences like the real one.
// Chat: "<role>: <content>\n" per turn, then "assistant:" when asked for a generation prompt
// (tools are ignored; tests/server/template_text_codec.h renders real templates).
#pragma once

#include "engine/text_codec.h"

namespace hearth::testing {

class FakeTextCodec : public engine::TextCodec {
 public:
  static constexpr int32_t kBos = 256;
  static constexpr int32_t kEos = 257;
  static constexpr int32_t kVocabSize = 258;

  int32_t vocab_size() const override { return kVocabSize; }
  int32_t bos_id() const override { return kBos; }
  std::vector<int32_t> eos_ids() const override { return {kEos}; }
  std::vector<int32_t> Encode(std::string_view text, bool add_special,
                              bool parse_special) const override;
  std::string Decode(std::span<const int32_t> ids, bool skip_special) const override;
  std::string TokenText(int32_t id) const override;
  std::unique_ptr<engine::TokenStreamDecoder> NewStreamDecoder(bool skip_special,
                                                               bool sequence_start) const override;
  bool has_chat_template() const override { return true; }
  using engine::TextCodec::RenderChat;
  Result<std::string> RenderChat(std::span<const engine::ChatTurn> turns,
                                 std::span<const std::string> tools_json,
                                 bool add_generation_prompt) const override;
};

}  // namespace hearth::testing
