// TextCodec: what the engine and the server need from a tokenizer (text <-> ids, streaming
// detokenization, chat templates), as a small interface so that they can be tested with a fake
// (tests/server/fake_text_codec.h: one id per byte) and the real tokenizer
// (model_loader/tokenizer) plugs in through a thin adapter. Implementations must be safe to call
// from several threads at once (gRPC handlers tokenize; the engine thread detokenizes).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/core/status.h"

namespace hearth::engine {

// Incremental detokenization of one sequence: Push returns the text that is final after `id`
// (never half a UTF-8 character), Flush the rest. Concatenated, the returns equal Decode(ids).
class TokenStreamDecoder {
 public:
  virtual ~TokenStreamDecoder() = default;
  virtual std::string Push(int32_t id) = 0;
  virtual std::string Flush() = 0;
};

// One chat message, as the chat template sees it (Hugging Face's apply_chat_template message
// dicts). Empty name / tool_call_id / tool_calls_json mean the key is absent.
struct ChatTurn {
  std::string role;
  std::string content;
  std::string name = {};  // (initializers: `{role, content}` stays warning-free)
  std::string tool_call_id = {};
  // A JSON array of {"id", "type", "function": {"name", "arguments"}} (arguments an object or
  // a string, passed to the template as given).
  std::string tool_calls_json = {};
  bool null_content = false;  // content is None (an assistant turn that only calls tools)
};

class TextCodec {
 public:
  virtual ~TextCodec() = default;

  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;  // -1: none
  virtual std::vector<int32_t> eos_ids() const = 0;

  // add_special: BOS/EOS as the model's metadata says; parse_special: control-token text in
  // `text` becomes control tokens.
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_special,
                                      bool parse_special) const = 0;
  // Out-of-range ids are skipped.
  virtual std::string Decode(std::span<const int32_t> ids, bool skip_special) const = 0;
  // The token as the vocabulary stores it ("" for an out-of-range id).
  virtual std::string TokenText(int32_t id) const = 0;
  // `sequence_start`: false when streaming a continuation (its leading spaces are real).
  virtual std::unique_ptr<TokenStreamDecoder> NewStreamDecoder(bool skip_special,
                                                               bool sequence_start) const = 0;

  // The model's chat template applied to `turns` (Unimplemented where the model has none).
  // `tools_json`: the template's `tools`, each a JSON object (function schemas); empty: None.
  // Malformed JSON in a turn or a tool is kInvalidArgument.
  virtual bool has_chat_template() const { return false; }
  virtual Result<std::string> RenderChat(std::span<const ChatTurn> turns,
                                         std::span<const std::string> tools_json,
                                         bool add_generation_prompt) const {
    (void)turns;
    (void)tools_json;
    (void)add_generation_prompt;
    return UnimplementedError("this model has no chat template");
  }
  // Without tools. (Implementations override the three-argument form.)
  Result<std::string> RenderChat(std::span<const ChatTurn> turns,
                                 bool add_generation_prompt) const {
    return RenderChat(turns, {}, add_generation_prompt);
  }
};

}  // namespace hearth::engine
