// A real HearthServer on 127.0.0.1:0 over the fake runner and codec, with client stubs, a raw
// grpc.health.v1 check and a /metrics scrape.
#pragma once

#include <arpa/inet.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <unordered_map>
#include <unordered_set>

#include "hearth/v1/control.grpc.pb.h"
#include "hearth/v1/inference.grpc.pb.h"
#include "server/hearth_server.h"
#include "tests/server/engine_test_util.h"

namespace hearth::testing {

inline server::ServerConfig LoopbackConfig() {
  server::ServerConfig c;
  c.address = "127.0.0.1";
  c.port = 0;
  c.metrics_port = -1;  // off; the metrics test turns it on
  c.gpu_price_per_hour = 2.5;
  c.drain_timeout_s = 20;
  return c;
}

struct ServerOptions {
  FakeRunnerOptions runner;
  engine::EngineConfig engine = DefaultConfig();
  server::ServerConfig config = LoopbackConfig();
  std::unordered_map<std::string, std::string> api_keys;
  std::unordered_set<std::string> admin_keys;      // of api_keys' keys
  std::shared_ptr<const engine::TextCodec> codec;  // null: FakeTextCodec
};

struct ServerFixture {
  explicit ServerFixture(ServerOptions o = ServerOptions()) {
    auto r = std::make_unique<FakeModelRunner>(o.runner);
    runner = r.get();
    std::shared_ptr<const engine::TextCodec> codec =
        o.codec != nullptr ? o.codec : std::make_shared<FakeTextCodec>();
    auto metrics =
        std::make_unique<server::Metrics>(o.config.gpu_price_per_hour, o.config.max_tenants);
    auto e = engine::Engine::Create(o.engine, std::move(r), codec, metrics.get());
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    v1::ModelInfo info;
    info.set_name("fake");
    info.set_vocab_size(FakeTextCodec::kVocabSize);
    auto s = server::HearthServer::Start(o.config, std::move(*e), std::move(metrics), info,
                                         server::ApiKeys::FromMap(o.api_keys, o.admin_keys));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    server = std::move(*s);
    channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()),
                                  grpc::InsecureChannelCredentials());
    inference = v1::Inference::NewStub(channel);
    control = v1::Control::NewStub(channel);
  }

  struct Stream {
    grpc::Status status;
    std::string text;
    std::vector<int32_t> tokens;
    v1::GenerateResponse final;
    int num_chunks = 0;
  };
  Stream Generate(const v1::GenerateRequest& request, const std::string& api_key = "",
                  std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    if (!api_key.empty()) ctx.AddMetadata("authorization", "Bearer " + api_key);
    auto reader = inference->Generate(&ctx, request);
    Stream s;
    v1::GenerateResponse r;
    while (reader->Read(&r)) {
      ++s.num_chunks;
      s.text += r.text();
      s.tokens.insert(s.tokens.end(), r.token_ids().begin(), r.token_ids().end());
      if (r.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) s.final = r;
    }
    s.status = reader->Finish();
    return s;
  }

  // grpc.health.v1.Health/Check for the overall status: 1 SERVING, 2 NOT_SERVING, -1 error.
  int HealthStatus() {
    grpc::TemplatedGenericStub<grpc::ByteBuffer, grpc::ByteBuffer> stub(channel);
    grpc::ClientContext ctx;
    grpc::ByteBuffer request;  // HealthCheckRequest{service: ""} is empty on the wire
    grpc::Slice empty;
    request = grpc::ByteBuffer(&empty, 1);
    grpc::ByteBuffer response;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", {}, &request, &response,
                   [&](grpc::Status s) { done.set_value(std::move(s)); });
    if (!done.get_future().get().ok()) return -1;
    std::vector<grpc::Slice> slices;
    (void)response.Dump(&slices);
    std::string bytes;
    for (const grpc::Slice& s : slices)
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    // HealthCheckResponse{status = 1 (field 1, varint)}; an absent field means 0 (UNKNOWN).
    if (bytes.size() == 2 && bytes[0] == 0x08) return bytes[1];
    return bytes.empty() ? 0 : -1;
  }

  // The body of GET /metrics, or "" on failure.
  std::string ScrapeMetrics() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server->metrics_port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd);
      return "";
    }
    const std::string get = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    (void)!write(fd, get.data(), get.size());
    std::string reply;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) reply.append(buf, n);
    close(fd);
    const size_t body = reply.find("\r\n\r\n");
    return body == std::string::npos ? "" : reply.substr(body + 4);
  }

  void WaitForIdleBlocks() { testing::WaitForIdleBlocks(server->engine()); }

  FakeModelRunner* runner = nullptr;
  std::unique_ptr<server::HearthServer> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Inference::Stub> inference;
  std::unique_ptr<v1::Control::Stub> control;
};

inline v1::GenerateRequest TextRequest(const std::string& text, int max_tokens) {
  v1::GenerateRequest r;
  r.set_text(text);
  r.set_max_tokens(max_tokens);
  r.mutable_sampling()->set_temperature(0.f);
  return r;
}

}  // namespace hearth::testing
