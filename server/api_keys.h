// ApiKeys: bearer-token authentication. A JSON file maps each key to its tenant; a call carries
// "authorization: Bearer <key>". With no keys configured every call is let in.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include "kernels/core/status.h"

namespace hearth::server {

class ApiKeys {
 public:
  static Result<ApiKeys> FromFile(const std::string& path);
  static ApiKeys FromMap(std::unordered_map<std::string, std::string> key_to_tenant);
  ApiKeys() = default;

  bool enabled() const { return !tenants_.empty(); }
  // The tenant of the key in an "authorization" header value; kUnauthenticated otherwise.
  Result<std::string> Authenticate(std::string_view authorization_header) const;

 private:
  std::unordered_map<std::string, std::string> tenants_;
};

}  // namespace hearth::server
