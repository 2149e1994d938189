// libFuzzer target: any bytes as a chat template, parsed and (when it parses) rendered over a
// fixed conversation with tools. Errors are fine; crashes, leaks, UB and hangs are not.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model_loader/tokenizer/chat_template.h"

namespace {

const nlohmann::ordered_json& Context() {
  static const nlohmann::ordered_json context = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": "Weather in Paris? ünïcode"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "call12345", "type": "function",
        "function": {"name": "get_weather", "arguments": {"location": "Paris", "days": 2}}}]},
      {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "22C"},
      {"role": "assistant", "content": "<think>hmm</think>It is 22C."}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d",
      "parameters": {"type": "object", "properties": {"location": {"type": "string"},
      "days": {"type": "integer", "default": 1.5}}, "required": ["location"]}}}],
    "documents": null, "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>",
    "enable_thinking": false
  })");
  return context;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view source(reinterpret_cast<const char*>(data), size);
  hearth::Result<hearth::ChatTemplate> t = hearth::ChatTemplate::Parse(source);
  if (!t.ok()) return 0;
  hearth::ChatRenderOptions options;
  options.now = 1721995200;
  // Small caps keep each input fast; the limits themselves are what is being exercised.
  options.limits.max_loop_iterations = 20000;
  options.limits.max_output_bytes = 1 << 16;
  (void)t->Render(Context(), options);
  return 0;
}
