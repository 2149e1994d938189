#include "model_loader/tokenizer/chat_template.h"

#include <filesystem>

#include "kernels/core/json_depth.h"
#include "model_loader/read_file.h"
#include "model_loader/tokenizer/jinja_parser.h"

namespace hearth {

Result<ChatTemplate> ChatTemplate::Parse(std::string_view source) {
  HEARTH_ASSIGN_OR_RETURN(jinja::StmtList program, jinja::ParseTemplate(source));
  ChatTemplate t;
  t.source_ = std::make_shared<const std::string>(source);
  t.program_ = std::make_shared<const jinja::StmtList>(std::move(program));
  return t;
}

Result<std::string> ChatTemplate::Render(const nlohmann::ordered_json& context,
                                         const ChatRenderOptions& options) const {
  if (!context.is_object()) return InvalidArgumentError("chat template context must be an object");
  jinja::Value ctx = jinja::Value::FromJson(context);
  std::time_t now = options.now ? *options.now : std::time(nullptr);
  jinja::Interpreter interpreter(ctx.as_dict(), now, options.limits);
  return interpreter.Render(*program_);
}

nlohmann::ordered_json BuildChatContext(const std::vector<ChatMessage>& messages,
                                        const nlohmann::ordered_json& tools,
                                        bool add_generation_prompt, const std::string& bos_token,
                                        const std::string& eos_token,
                                        const nlohmann::ordered_json& extra) {
  nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
  for (const ChatMessage& m : messages) {
    nlohmann::ordered_json j = {{"role", m.role}, {"content", m.content}};
    if (m.tool_calls) j["tool_calls"] = *m.tool_calls;
    if (m.tool_call_id) j["tool_call_id"] = *m.tool_call_id;
    if (m.name) j["name"] = *m.name;
    msgs.push_back(std::move(j));
  }
  nlohmann::ordered_json ctx = {
      {"messages", std::move(msgs)},
      {"tools", tools.is_array() ? tools : nlohmann::ordered_json(nullptr)},
      {"documents", nullptr},
      {"add_generation_prompt", add_generation_prompt},
      {"bos_token", bos_token},
      {"eos_token", eos_token},
  };
  if (extra.is_object()) {
    for (const auto& [k, v] : extra.items()) ctx[k] = v;
  }
  return ctx;
}

Result<std::string> ChatTemplateFromTokenizerConfig(const nlohmann::ordered_json& config,
                                                    std::string_view name) {
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) {
    return NotFoundError("tokenizer_config.json has no chat_template");
  }
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array()) {
    return InvalidArgumentError("tokenizer_config.json chat_template must be a string or a list");
  }
  std::vector<std::string> names;
  for (const auto& entry : *it) {
    if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
        !entry["name"].is_string() || !entry["template"].is_string()) {
      return InvalidArgumentError(
          "tokenizer_config.json chat_template list entries need string "
          "'name' and 'template'");
    }
    if (entry["name"].get<std::string>() == name) return entry["template"].get<std::string>();
    names.push_back(entry["name"].get<std::string>());
  }
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  return NotFoundError("tokenizer_config.json has no chat template named '" + std::string(name) +
                       "' (has: " + known + ")");
}

Result<std::string> ChatTemplateSourceFromHfDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path jinja_path = fs::path(dir) / "chat_template.jinja";
  if (fs::exists(jinja_path, ec)) return ReadFile(jinja_path.string());
  const fs::path config_path = fs::path(dir) / "tokenizer_config.json";
  if (!fs::exists(config_path, ec)) {
    return NotFoundError(dir + " has neither chat_template.jinja nor tokenizer_config.json");
  }
  HEARTH_ASSIGN_OR_RETURN(const std::string text, ReadFile(config_path.string()));
  HEARTH_RETURN_IF_ERROR(CheckJsonDepth(text, config_path.string()));
  const nlohmann::ordered_json config =
      nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    return InvalidArgumentError(config_path.string() + ": not a JSON object");
  }
  Result<std::string> source = ChatTemplateFromTokenizerConfig(config);
  if (!source.ok() && source.status().code() != StatusCode::kNotFound) {
    return InvalidArgumentError(config_path.string() + ": " + source.status().message());
  }
  return source;
}

}  // namespace hearth
