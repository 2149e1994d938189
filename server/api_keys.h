// ApiKeys: bearer-token authentication. A JSON file maps each key to its tenant; a call carries
// "authorization: Bearer <key>". With no keys configured every call is let in.
//
// A key is a tenant's, `{"<key>": "team-a"}`, or an operator's, `{"<key>": {"tenant": "ops",
// "admin": true}}`. With keys on, a tenant's key generates, tokenizes, reads the load (its own
// tenant's costs only) and aborts its own tenant's requests; only an admin key also drains the
// server, aborts another tenant's request and reads every tenant's costs (control_service).
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "kernels/core/status.h"

namespace hearth::server {

// A tenant name's characters: [A-Za-z0-9_.-] (no '/', which ServiceContext::EngineRequestId puts
// between a tenant and a request id). Requests and the keys file are checked by it.
bool IsTenantName(std::string_view name);

// Who is calling: the API key's tenant, and whether the key is an admin's. Without API keys
// every caller is Caller{"", true}: a server without keys trusts its network.
struct Caller {
  std::string tenant;
  bool admin = false;
};

class ApiKeys {
 public:
  static Result<ApiKeys> FromFile(const std::string& path);
  // Tenants must be non-empty and [A-Za-z0-9_.-] (FromFile checks; here it is the caller's).
  static ApiKeys FromMap(std::unordered_map<std::string, std::string> key_to_tenant,
                         std::unordered_set<std::string> admin_keys = {});
  ApiKeys() = default;

  bool enabled() const { return !tenants_.empty(); }
  // The caller behind an "authorization" header value; kUnauthenticated for a missing, malformed
  // or unknown key.
  Result<Caller> Identify(std::string_view authorization_header) const;
  // Identify's tenant.
  Result<std::string> Authenticate(std::string_view authorization_header) const;

 private:
  std::unordered_map<std::string, std::string> tenants_;
  std::unordered_set<std::string> admins_;
};

}  // namespace hearth::server
