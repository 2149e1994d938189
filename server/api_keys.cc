#include "server/api_keys.h"

#include <fstream>
#include <nlohmann/json.hpp>

namespace hearth::server {

Result<ApiKeys> ApiKeys::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError("API keys file " + path + " cannot be opened");
  std::unordered_map<std::string, std::string> map;
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    if (!j.is_object() || j.empty())
      return InvalidArgumentError("API keys file " + path +
                                  " must be a non-empty JSON object {\"key\": \"tenant\"}");
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key().size() < 16)
        return InvalidArgumentError("API keys file " + path +
                                    ": keys must be at least 16 characters");
      map[it.key()] = it.value().get<std::string>();
    }
  } catch (const std::exception& e) {
    return InvalidArgumentError("API keys file " + path + ": " + e.what());
  }
  return FromMap(std::move(map));
}

ApiKeys ApiKeys::FromMap(std::unordered_map<std::string, std::string> key_to_tenant) {
  ApiKeys keys;
  keys.tenants_ = std::move(key_to_tenant);
  return keys;
}

Result<std::string> ApiKeys::Authenticate(std::string_view header) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (header.empty())
    return Status(StatusCode::kUnauthenticated,
                  "missing API key: send metadata \"authorization: Bearer <key>\"");
  if (header.substr(0, kBearer.size()) != kBearer)
    return Status(StatusCode::kUnauthenticated,
                  "the authorization metadata must be \"Bearer <key>\"");
  auto it = tenants_.find(std::string(header.substr(kBearer.size())));
  if (it == tenants_.end()) return Status(StatusCode::kUnauthenticated, "unknown API key");
  return it->second;
}

}  // namespace hearth::server
