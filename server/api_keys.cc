#include "server/api_keys.h"

#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>

namespace hearth::server {

bool IsTenantName(std::string_view name) {
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
      return false;
  return true;
}

Result<ApiKeys> ApiKeys::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError("API keys file " + path + " cannot be opened");
  std::unordered_map<std::string, std::string> map;
  std::unordered_set<std::string> admins;
  const std::string what = "API keys file " + path;
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    if (!j.is_object() || j.empty())
      return InvalidArgumentError(what +
                                  " must be a non-empty JSON object {\"key\": \"tenant\"} (or "
                                  "{\"key\": {\"tenant\": \"ops\", \"admin\": true}})");
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key().size() < 16)
        return InvalidArgumentError(what + ": keys must be at least 16 characters");
      const nlohmann::json& v = it.value();
      std::string tenant;
      if (v.is_string()) {
        tenant = v.get<std::string>();
      } else if (v.is_object() && v.contains("tenant") && v["tenant"].is_string()) {
        for (auto f = v.begin(); f != v.end(); ++f)
          if (f.key() != "tenant" && f.key() != "admin")
            return InvalidArgumentError(what +
                                        ": a key's object has \"tenant\" and \"admin\" "
                                        "only, not \"" +
                                        f.key().substr(0, 40) + "\"");
        tenant = v["tenant"].get<std::string>();
        if (v.contains("admin")) {
          if (!v["admin"].is_boolean())
            return InvalidArgumentError(what + ": \"admin\" must be true or false");
          if (v["admin"].get<bool>()) admins.insert(it.key());
        }
      } else {
        return InvalidArgumentError(what +
                                    ": each key maps to its tenant, \"team-a\", or to "
                                    "{\"tenant\": \"ops\", \"admin\": true}");
      }
      if (tenant.empty() || !IsTenantName(tenant))
        return InvalidArgumentError(what + ": tenant \"" + tenant.substr(0, 40) +
                                    "\" must be non-empty and [A-Za-z0-9_.-] only");
      map[it.key()] = std::move(tenant);
    }
  } catch (const std::exception& e) {
    return InvalidArgumentError(what + ": " + e.what());
  }
  return FromMap(std::move(map), std::move(admins));
}

ApiKeys ApiKeys::FromMap(std::unordered_map<std::string, std::string> key_to_tenant,
                         std::unordered_set<std::string> admin_keys) {
  ApiKeys keys;
  keys.tenants_ = std::move(key_to_tenant);
  keys.admins_ = std::move(admin_keys);
  return keys;
}

Result<Caller> ApiKeys::Identify(std::string_view header) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (header.empty())
    return Status(StatusCode::kUnauthenticated,
                  "missing API key: send metadata \"authorization: Bearer <key>\"");
  if (header.substr(0, kBearer.size()) != kBearer)
    return Status(StatusCode::kUnauthenticated,
                  "the authorization metadata must be \"Bearer <key>\"");
  const std::string key(header.substr(kBearer.size()));
  auto it = tenants_.find(key);
  if (it == tenants_.end()) return Status(StatusCode::kUnauthenticated, "unknown API key");
  return Caller{it->second, admins_.count(key) != 0};
}

Result<std::string> ApiKeys::Authenticate(std::string_view header) const {
  HEARTH_ASSIGN_OR_RETURN(Caller caller, Identify(header));
  return std::move(caller.tenant);
}

}  // namespace hearth::server
