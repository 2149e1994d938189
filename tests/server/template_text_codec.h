// The byte-level FakeTextCodec with a real chat template rendered the way the server renders
// it (server::RenderChatTurns), so that a test can compare what a request's chat fields become
// with Python jinja2's rendering: Encode(rendered, parse_special) then Decode gives the text
// back byte for byte ("<s>" and "</s>" round-trip through the special ids).
#pragma once

#include <utility>

#include "server/tokenizer_codec.h"
#include "tests/server/fake_text_codec.h"

namespace hearth::testing {

class TemplateTextCodec : public FakeTextCodec {
 public:
  TemplateTextCodec(ChatTemplate chat_template, std::string bos_token, std::string eos_token,
                    ChatRenderOptions options = {})
      : template_(std::move(chat_template)),
        bos_(std::move(bos_token)),
        eos_(std::move(eos_token)),
        options_(std::move(options)) {}

  using engine::TextCodec::RenderChat;
  Result<std::string> RenderChat(std::span<const engine::ChatTurn> turns,
                                 std::span<const std::string> tools_json,
                                 bool add_generation_prompt) const override {
    return server::RenderChatTurns(template_, turns, tools_json, add_generation_prompt, bos_, eos_,
                                   options_);
  }

 private:
  ChatTemplate template_;
  std::string bos_, eos_;
  ChatRenderOptions options_;
};

}  // namespace hearth::testing
