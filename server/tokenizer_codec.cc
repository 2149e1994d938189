#include "server/tokenizer_codec.h"

#include "model_loader/tokenizer/tokenizer.h"
#include "model_loader/tokenizer/chat_template.h"

namespace hearth::server {

namespace {

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
  Result<std::string> RenderChat(std::span<const engine::ChatTurn> turns,
                                 bool add_generation_prompt) const override {
    if (template_ == nullptr) return UnimplementedError("this model has no chat template");
    std::vector<ChatMessage> messages;
    for (const engine::ChatTurn& t : turns) {
      ChatMessage m;
      m.role = t.role;
      m.content = t.content;
      messages.push_back(std::move(m));
    }
    const std::string bos = bos_id() >= 0 ? TokenText(bos_id()) : "";
    const std::string eos = eos_.empty() ? "" : TokenText(eos_.front());
    return template_->Render(BuildChatContext(messages, nullptr, add_generation_prompt, bos, eos));
  }

 private:
  std::unique_ptr<ChatTemplate> template_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::vector<int32_t> eos_;
};

}  // namespace

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
  if (model.gguf() != nullptr) {
    Result<std::string> source = model.gguf()->GetString("tokenizer.chat_template");
    if (source.ok()) {
      HEARTH_ASSIGN_OR_RETURN(ChatTemplate parsed, ChatTemplate::Parse(*source));
      codec->SetChatTemplate(std::move(parsed));
    }
  }
  return std::shared_ptr<const engine::TextCodec>(std::move(codec));
}


}  // namespace hearth::server
