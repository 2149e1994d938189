// Server configuration: the JSON config file, its validation, and the API keys file.
#include "server/server_config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "server/api_keys.h"

namespace hearth::server {
namespace {

std::string WriteTemp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ServerConfigTest, FileOverlaysEveryKey) {
  ServerConfig c;
  const std::string path = WriteTemp("all.json", R"({
    "address": "127.0.0.1", "port": 6000, "metrics_port": -1, "model": "m.gguf",
    "device": "cuda:0", "max_batch_tokens": 512, "max_seqs": 8, "kv_cache_bytes": 1048576,
    "block_size": 32, "max_waiting": 5, "drain_timeout": 2.5, "gpu_price_per_hour": 2.0,
    "api_keys": "k.json", "tls_cert": "c.pem", "tls_key": "k.pem", "tls_client_ca": "ca.pem",
    "max_prompt_bytes": 1000, "max_prompt_tokens": 100, "default_max_tokens": 7,
    "max_tenants": 9, "cpu_matmul": "int8", "gpu_dequant_weights": true})");
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.address, "127.0.0.1");
  EXPECT_EQ(c.port, 6000);
  EXPECT_EQ(c.metrics_port, -1);
  EXPECT_EQ(c.device, "cuda:0");
  EXPECT_EQ(c.max_batch_tokens, 512);
  EXPECT_EQ(c.block_size, 32);
  EXPECT_EQ(c.max_waiting_requests, 5);
  EXPECT_EQ(c.drain_timeout_s, 2.5);
  EXPECT_EQ(c.api_keys_file, "k.json");
  EXPECT_EQ(c.tls_client_ca_file, "ca.pem");
  EXPECT_EQ(c.limits.max_prompt_tokens, 100);
  EXPECT_EQ(c.limits.default_max_tokens, 7);
  EXPECT_EQ(c.max_tenants, 9);
  EXPECT_EQ(c.cpu_matmul, "int8");
  EXPECT_TRUE(c.gpu_dequant_weights);
  EXPECT_TRUE(ValidateServerConfig(c).ok());
}

TEST(ServerConfigTest, BadFilesAreNamedErrors) {
  ServerConfig c;
  Status s = LoadConfigFile(WriteTemp("unknown.json", R"({"prot": 1})"), &c);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("\"prot\""), std::string::npos) << s.message();
  s = LoadConfigFile(WriteTemp("type.json", R"({"port": "x"})"), &c);
  EXPECT_NE(s.message().find("\"port\""), std::string::npos) << s.message();
  EXPECT_EQ(LoadConfigFile(WriteTemp("bad.json", "{"), &c).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadConfigFile("/nonexistent/x.json", &c).code(), StatusCode::kNotFound);
}

TEST(ServerConfigTest, ValidationNamesTheSetting) {
  auto message = [](auto mutate) {
    ServerConfig c;
    mutate(c);
    return ValidateServerConfig(c).message();
  };
  EXPECT_NE(message([](ServerConfig& c) { c.port = 70000; }).find("port"), std::string::npos);
  EXPECT_NE(message([](ServerConfig& c) { c.max_tenants = 0; }).find("max_tenants"),
            std::string::npos);
  EXPECT_NE(message([](ServerConfig& c) { c.max_seqs = 0; }).find("max_seqs"), std::string::npos);
  EXPECT_NE(message([](ServerConfig& c) { c.tls_cert_file = "c.pem"; }).find("tls_key"),
            std::string::npos);
  EXPECT_NE(message([](ServerConfig& c) { c.tls_client_ca_file = "ca.pem"; }).find("mTLS"),
            std::string::npos);
  EXPECT_NE(message([](ServerConfig& c) { c.drain_timeout_s = -1; }).find("drain_timeout"),
            std::string::npos);
}

TEST(ApiKeysTest, FileMapsKeysToTenants) {
  auto keys = ApiKeys::FromFile(WriteTemp("keys.json", R"({"0123456789abcdef": "team-a"})"));
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_TRUE(keys->enabled());
  EXPECT_EQ(*keys->Authenticate("Bearer 0123456789abcdef"), "team-a");
  EXPECT_EQ(keys->Authenticate("").status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(keys->Authenticate("Basic 0123456789abcdef").status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(keys->Authenticate("Bearer nope").status().code(), StatusCode::kUnauthenticated);
  EXPECT_FALSE(ApiKeys::FromFile(WriteTemp("short.json", R"({"short": "t"})")).ok());
  EXPECT_FALSE(ApiKeys::FromFile(WriteTemp("empty.json", "{}")).ok());
  EXPECT_FALSE(ApiKeys().enabled());
}

TEST(ApiKeysTest, AdminKeysAndTenantNames) {
  auto keys = ApiKeys::FromFile(WriteTemp("admin.json", R"({
      "0123456789abcdef": "team-a",
      "fedcba9876543210": {"tenant": "ops", "admin": true},
      "aaaaaaaaaaaaaaaa": {"tenant": "team.b_2", "admin": false},
      "bbbbbbbbbbbbbbbb": {"tenant": "team-c"}})"));
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  auto who = [&](const std::string& key) { return *keys->Identify("Bearer " + key); };
  EXPECT_EQ(who("0123456789abcdef").tenant, "team-a");
  EXPECT_FALSE(who("0123456789abcdef").admin);
  EXPECT_EQ(who("fedcba9876543210").tenant, "ops");
  EXPECT_TRUE(who("fedcba9876543210").admin);
  EXPECT_EQ(who("aaaaaaaaaaaaaaaa").tenant, "team.b_2");
  EXPECT_FALSE(who("aaaaaaaaaaaaaaaa").admin);
  EXPECT_FALSE(who("bbbbbbbbbbbbbbbb").admin);
  EXPECT_EQ(*keys->Authenticate("Bearer fedcba9876543210"), "ops");
  // Each refused with a message naming what is wrong.
  const std::pair<const char*, const char*> bad[] = {
      {R"({"0123456789abcdef": "team/a"})", "[A-Za-z0-9_.-]"},  // '/' scopes request ids
      {R"({"0123456789abcdef": ""})", "non-empty"},
      {R"({"0123456789abcdef": 7})", "maps to its tenant"},
      {R"({"0123456789abcdef": {"admin": true}})", "maps to its tenant"},
      {R"({"0123456789abcdef": {"tenant": "a", "admin": "yes"}})", "true or false"},
      {R"({"0123456789abcdef": {"tenant": "a", "role": "admin"}})", "not \"role\""},
  };
  for (const auto& [text, message] : bad) {
    auto r = ApiKeys::FromFile(WriteTemp("bad.json", text));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find(message), std::string::npos)
        << text << ": " << r.status().ToString();
  }
}

}  // namespace
}  // namespace hearth::server
