#include "server/tokenizer_codec.h"

#include "model_loader/tokenizer/tokenizer.h"
#include "model_loader/tokenizer/chat_template.h"

namespace hearth::server {

namespace {

Result<nlohmann::ordered_json> ParseJson(const std::string& text, const std::string& what) {
  nlohmann::ordered_json j =
      nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgumentError(what + " is not valid JSON");
  return j;
}

class StreamDecoderAdapter : public engine::TokenStreamDecoder {
 public:
  StreamDecoderAdapter(const tokenizer::Tokenizer& t, bool skip_special, bool sequence_start)
      : decoder_(t, skip_special, sequence_start) {}
  std::string Push(int32_t id) override { return decoder_.Push(id); }
  std::string Flush() override { return decoder_.Flush(); }

 private:
  tokenizer::StreamDecoder decoder_;
};

class TokenizerCodec : public engine::TextCodec {
 public:
  TokenizerCodec(std::unique_ptr<tokenizer::Tokenizer> t, std::vector<int32_t> eos)
      : tokenizer_(std::move(t)), eos_(std::move(eos)) {}

  int32_t vocab_size() const override { return tokenizer_->vocab_size(); }
  int32_t bos_id() const override { return tokenizer_->bos_id(); }
  std::vector<int32_t> eos_ids() const override { return eos_; }
  std::vector<int32_t> Encode(std::string_view text, bool add_special,
                              bool parse_special) const override {
    return tokenizer_->Encode(text, add_special, parse_special);
  }
  std::string Decode(std::span<const int32_t> ids, bool skip_special) const override {
    return tokenizer_->Decode(ids, skip_special);
  }
  std::string TokenText(int32_t id) const override {
    return std::string(tokenizer_->TokenText(id));
  }
  std::unique_ptr<engine::TokenStreamDecoder> NewStreamDecoder(bool skip_special,
                                                               bool sequence_start) const override {
    return std::make_unique<StreamDecoderAdapter>(*tokenizer_, skip_special, sequence_start);
  }

  void SetChatTemplate(ChatTemplate t) { template_ = std::make_unique<ChatTemplate>(std::move(t)); }
  bool has_chat_template() const override { return template_ != nullptr; }
  using engine::TextCodec::RenderChat;
  Result<std::string> RenderChat(std::span<const engine::ChatTurn> turns,
                                 std::span<const std::string> tools_json,
                                 bool add_generation_prompt) const override {
    if (template_ == nullptr) return UnimplementedError("this model has no chat template");
    const std::string bos = bos_id() >= 0 ? TokenText(bos_id()) : "";
    const std::string eos = eos_.empty() ? "" : TokenText(eos_.front());
    return RenderChatTurns(*template_, turns, tools_json, add_generation_prompt, bos, eos);
  }

 private:
  std::unique_ptr<ChatTemplate> template_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::vector<int32_t> eos_;
};

}  // namespace

Result<std::string> RenderChatTurns(const ChatTemplate& chat_template,
                                    std::span<const engine::ChatTurn> turns,
                                    std::span<const std::string> tools_json,
                                    bool add_generation_prompt, const std::string& bos_token,
                                    const std::string& eos_token,
                                    const ChatRenderOptions& options) {
  std::vector<ChatMessage> messages;
  for (size_t i = 0; i < turns.size(); ++i) {
    const engine::ChatTurn& t = turns[i];
    ChatMessage m;
    m.role = t.role;
    m.content =
        t.null_content ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(t.content);
    if (!t.tool_calls_json.empty()) {
      HEARTH_ASSIGN_OR_RETURN(
          m.tool_calls,
          ParseJson(t.tool_calls_json, "message " + std::to_string(i) + "'s tool calls"));
      if (!m.tool_calls->is_array())
        return InvalidArgumentError("message " + std::to_string(i) +
                                    "'s tool calls are not a JSON array");
    }
    if (!t.tool_call_id.empty()) m.tool_call_id = t.tool_call_id;
    if (!t.name.empty()) m.name = t.name;
    messages.push_back(std::move(m));
  }
  nlohmann::ordered_json tools = nullptr;
  if (!tools_json.empty()) {
    tools = nlohmann::ordered_json::array();
    for (size_t i = 0; i < tools_json.size(); ++i) {
      HEARTH_ASSIGN_OR_RETURN(nlohmann::ordered_json tool,
                              ParseJson(tools_json[i], "tool " + std::to_string(i)));
      tools.push_back(std::move(tool));
    }
  }
  return chat_template.Render(
      BuildChatContext(messages, tools, add_generation_prompt, bos_token, eos_token), options);
}

Result<std::shared_ptr<const engine::TextCodec>> MakeTextCodec(const LoadedModel& model) {
  std::unique_ptr<tokenizer::Tokenizer> t;
  if (model.gguf() != nullptr) {
    HEARTH_ASSIGN_OR_RETURN(t, tokenizer::Tokenizer::FromGguf(*model.gguf()));
  } else {
    HEARTH_ASSIGN_OR_RETURN(t, tokenizer::Tokenizer::FromHfDir(model.path()));
  }
  std::vector<int32_t> eos;
  for (int64_t id : model.config().eos_ids) eos.push_back(static_cast<int32_t>(id));
  if (eos.empty() && t->eos_id() >= 0) eos.push_back(t->eos_id());
  auto codec = std::make_shared<TokenizerCodec>(std::move(t), std::move(eos));
  // A model without a template serves text and token ids; chat requests get a clear error.
  Result<std::string> source = model.gguf() != nullptr
                                   ? model.gguf()->GetString("tokenizer.chat_template")
                                   : ChatTemplateSourceFromHfDir(model.path());
  if (source.ok()) {
    HEARTH_ASSIGN_OR_RETURN(ChatTemplate parsed, ChatTemplate::Parse(*source));
    codec->SetChatTemplate(std::move(parsed));
  } else if (model.gguf() == nullptr && source.status().code() != StatusCode::kNotFound) {
    return source.status();
  }
  return std::shared_ptr<const engine::TextCodec>(std::move(codec));
}


}  // namespace hearth::server
