// A model's chat template (tokenizer.chat_template in GGUF metadata, or chat_template in
// tokenizer_config.json), rendered the way Hugging Face's apply_chat_template renders it: jinja2
// with trim_blocks=True, lstrip_blocks=True, loop controls, raise_exception, strftime_now and a
// tojson that keeps non-ASCII text. The interpreter covers the Jinja2 subset real templates use;
// anything else fails at Parse or Render with an error naming the construct and its line:col.
//
// Known differences from Python, none of which the shipped templates reach: case mapping and
// whitespace stripping cover ASCII only, integers are int64 (overflow is an error), dict keys
// are strings, and tojson's ensure_ascii/separators options are rejected as unsupported.
//
// Contexts are nlohmann::ordered_json, not nlohmann::json: Python dicts keep insertion order and
// templates print them (tools | tojson), so key order is part of the output.
#pragma once

#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/core/status.h"
#include "model_loader/tokenizer/jinja_ast.h"
#include "model_loader/tokenizer/jinja_interpreter.h"

namespace hearth {

struct ChatMessage {
  std::string role;
  nlohmann::ordered_json content;                    // a string, a list of parts, or null
  std::optional<nlohmann::ordered_json> tool_calls;  // OpenAI-style list, assistant turns only
  std::optional<std::string> tool_call_id;           // tool results
  std::optional<std::string> name;
};

struct ChatRenderOptions {
  // strftime_now's clock (UTC); unset means the current time.
  std::optional<std::time_t> now;
  jinja::RenderLimits limits;
};

class ChatTemplate {
 public:
  static Result<ChatTemplate> Parse(std::string_view source);

  // Renders with `context` as the template's variables (messages, tools, add_generation_prompt,
  // bos_token, ...). A template that calls raise_exception yields an error carrying its message.
  // Render is const and may run concurrently on one ChatTemplate (each call has its own state).
  Result<std::string> Render(const nlohmann::ordered_json& context,
                             const ChatRenderOptions& options = {}) const;

  const std::string& source() const { return *source_; }

 private:
  std::shared_ptr<const std::string> source_;
  std::shared_ptr<const jinja::StmtList> program_;
};

// The variables apply_chat_template passes: messages, tools (null unless an array), documents
// (null), add_generation_prompt, bos_token, eos_token, then `extra` (e.g. enable_thinking), which
// may override any of them.
nlohmann::ordered_json BuildChatContext(const std::vector<ChatMessage>& messages,
                                        const nlohmann::ordered_json& tools,
                                        bool add_generation_prompt, const std::string& bos_token,
                                        const std::string& eos_token,
                                        const nlohmann::ordered_json& extra = nullptr);

// tokenizer_config.json's chat_template: a string, or a list of {"name", "template"} from which
// `name` (default "default") is chosen. NotFound when absent.
Result<std::string> ChatTemplateFromTokenizerConfig(const nlohmann::ordered_json& config,
                                                    std::string_view name = "default");

// The chat template of a Hugging Face model directory, as transformers finds it: the file
// chat_template.jinja when present, else tokenizer_config.json's chat_template ("default" when a
// list). NotFound when the directory has neither (a model without a template); other errors name
// the file (unreadable, malformed JSON, malformed chat_template).
Result<std::string> ChatTemplateSourceFromHfDir(const std::string& dir);

}  // namespace hearth
