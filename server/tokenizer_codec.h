// The real tokenizer (model_loader/tokenizer) and chat template behind engine::TextCodec.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "engine/text_codec.h"
#include "kernels/core/status.h"
#include "model_loader/loaded_model.h"
#include "model_loader/tokenizer/chat_template.h"

namespace hearth::server {

Result<std::shared_ptr<const engine::TextCodec>> MakeTextCodec(const LoadedModel& model);

// Renders `turns` and `tools_json` (see engine::TextCodec::RenderChat) with `chat_template`,
// with the variables Hugging Face's apply_chat_template passes: each turn a message dict
// (tool_calls, tool_call_id and name only where set; content None where null_content), tools a
// list of the parsed objects (None when empty). kInvalidArgument for malformed JSON.
Result<std::string> RenderChatTurns(const ChatTemplate& chat_template,
                                    std::span<const engine::ChatTurn> turns,
                                    std::span<const std::string> tools_json,
                                    bool add_generation_prompt, const std::string& bos_token,
                                    const std::string& eos_token,
                                    const ChatRenderOptions& options = {});

}  // namespace hearth::server
