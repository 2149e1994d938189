// hearth client "prompt": streams a completion from a running server (hearth.v1.Inference).
// hearth client --load | --drain | --abort ID: the operator's calls (hearth.v1.Control).
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "hearth/v1/control.grpc.pb.h"
#include "hearth/v1/inference.grpc.pb.h"
#include "model_loader/read_file.h"
#include "server/cli.h"

namespace hearth::cli {
namespace {

struct ClientArgs {
  std::string address = "127.0.0.1:50051";
  std::string api_key;
  std::string tls_ca, tls_cert, tls_key;  // PEM files; tls_ca enables TLS
  std::string prompt;
  std::string request_id;
  bool chat = false;
  int max_tokens = 256;
  float temperature = 0.f;
  double timeout_s = 600;
  // Control calls instead of a completion.
  bool load = false;
  bool drain = false;
  int drain_timeout_s = 0;  // 0: the server's --drain-timeout
  std::string abort_id;
  std::string abort_tenant;
};

bool ReadPem(const std::string& path, std::string* out) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    std::fprintf(stderr, "error: %s\n", text.status().ToString().c_str());
    return false;
  }
  *out = std::move(*text);
  return true;
}

std::shared_ptr<grpc::Channel> Connect(const ClientArgs& a) {
  if (a.tls_ca.empty()) return grpc::CreateChannel(a.address, grpc::InsecureChannelCredentials());
  grpc::SslCredentialsOptions tls;
  if (!ReadPem(a.tls_ca, &tls.pem_root_certs)) return nullptr;
  if (!a.tls_cert.empty() &&
      (!ReadPem(a.tls_cert, &tls.pem_cert_chain) || !ReadPem(a.tls_key, &tls.pem_private_key)))
    return nullptr;
  return grpc::CreateChannel(a.address, grpc::SslCredentials(tls));
}

void Prepare(const ClientArgs& a, grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(a.timeout_s * 1e3)));
  if (!a.api_key.empty()) ctx->AddMetadata("authorization", "Bearer " + a.api_key);
}

int Failed(const char* call, const grpc::Status& status) {
  std::fprintf(stderr, "error: %s: %s: %s\n", call,
               status.error_code() == grpc::StatusCode::UNAVAILABLE         ? "UNAVAILABLE"
               : status.error_code() == grpc::StatusCode::NOT_FOUND         ? "NOT_FOUND"
               : status.error_code() == grpc::StatusCode::PERMISSION_DENIED ? "PERMISSION_DENIED"
                                                                            : "RPC failed",
               status.error_message().c_str());
  return 1;
}

// --load, --drain or --abort: one Control call, its answer on stdout as "name: value" lines.
int RunControl(const ClientArgs& a, const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = v1::Control::NewStub(channel);
  grpc::ClientContext ctx;
  Prepare(a, &ctx);
  if (!a.abort_id.empty()) {
    v1::AbortRequest request;
    request.set_request_id(a.abort_id);
    request.set_tenant(a.abort_tenant);
    v1::AbortResponse response;
    const grpc::Status s = stub->Abort(&ctx, request, &response);
    if (!s.ok()) return Failed("Abort", s);
    std::printf("aborted: %s\n", a.abort_id.c_str());
    return 0;
  }
  if (a.drain) {
    v1::DrainRequest request;
    request.set_timeout_s(a.drain_timeout_s);
    v1::DrainResponse response;
    const grpc::Status s = stub->Drain(&ctx, request, &response);
    if (!s.ok()) return Failed("Drain", s);
    std::printf("drained: %d completed, %d aborted\n", response.completed(), response.aborted());
    return 0;
  }
  v1::Load load;
  const grpc::Status s = stub->GetLoad(&ctx, v1::GetLoadRequest(), &load);
  if (!s.ok()) return Failed("GetLoad", s);
  std::printf(
      "waiting: %d\nrunning: %d\nkv_blocks: %lld / %lld\nprefix_cache_hit_rate: %.3f\n"
      "output_tokens_per_s: %.1f\nusd_per_million_output_tokens: %.4f (at %.2f USD/h)\n"
      "draining: %s\n",
      load.waiting(), load.running(), static_cast<long long>(load.kv_blocks_used()),
      static_cast<long long>(load.kv_blocks_total()), load.prefix_cache_hit_rate(),
      load.output_tokens_per_s(), load.usd_per_million_output_tokens(), load.gpu_usd_per_hour(),
      load.draining() ? "true" : "false");
  for (const v1::TenantCost& t : load.tenants())
    std::printf("tenant %s: prompt %lld tokens, completion %lld tokens, %.4f USD/M output\n",
                t.tenant().c_str(), static_cast<long long>(t.prompt_tokens()),
                static_cast<long long>(t.completion_tokens()), t.usd_per_million_output_tokens());
  return 0;
}

int RunClient(const ClientArgs& a) {
  std::shared_ptr<grpc::Channel> channel = Connect(a);
  if (channel == nullptr) return 1;
  if (a.load || a.drain || !a.abort_id.empty()) return RunControl(a, channel);
  if (a.prompt.empty()) {
    std::fprintf(stderr, "error: give a prompt, or --load, --drain or --abort ID\n");
    return 2;
  }
  auto stub = v1::Inference::NewStub(channel);
  v1::GenerateRequest request;
  if (a.chat) {
    v1::ChatMessage* m = request.mutable_chat()->add_messages();
    m->set_role("user");
    m->set_content(a.prompt);
  } else {
    request.set_text(a.prompt);
  }
  request.set_max_tokens(a.max_tokens);
  request.set_request_id(a.request_id);
  request.mutable_sampling()->set_temperature(a.temperature);
  grpc::ClientContext ctx;
  Prepare(a, &ctx);
  auto reader = stub->Generate(&ctx, request);
  v1::GenerateResponse r;
  v1::GenerateResponse last;
  while (reader->Read(&r)) {
    std::fwrite(r.text().data(), 1, r.text().size(), stdout);
    std::fflush(stdout);
    if (r.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) last = r;
  }
  const grpc::Status status = reader->Finish();
  std::printf("\n");
  if (!status.ok()) return Failed("Generate", status);
  std::fprintf(stderr,
               "[%s] id %s | prompt %d tokens (%d cached), completion %d tokens | queue %.1f ms, "
               "first token %.1f ms, total %.1f ms\n",
               v1::FinishReason_Name(last.finish_reason()).c_str(), last.request_id().c_str(),
               last.usage().prompt_tokens(), last.usage().cached_tokens(),
               last.usage().completion_tokens(), last.timings().queue_ms(),
               last.timings().first_token_ms(), last.timings().total_ms());
  return 0;
}

}  // namespace

void AddClientCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "client", "Stream a completion from a running server, or --load / --drain / --abort it");
  auto a = std::make_shared<ClientArgs>();
  cmd->add_option("prompt", a->prompt, "the prompt text");
  cmd->add_option("--address", a->address, "server host:port (127.0.0.1:50051)");
  cmd->add_option("--api-key", a->api_key, "sent as \"authorization: Bearer <key>\"");
  cmd->add_option("--tls-ca", a->tls_ca, "PEM CA to verify the server by (enables TLS)");
  cmd->add_option("--tls-cert", a->tls_cert, "PEM client certificate (mTLS; with --tls-key)");
  cmd->add_option("--tls-key", a->tls_key, "PEM client key (mTLS)");
  cmd->add_option("--request-id", a->request_id, "the completion's request id (for --abort)");
  cmd->add_flag("--load", a->load, "print the server's load and costs (Control.GetLoad)");
  cmd->add_flag("--drain", a->drain,
                "drain the server: it stops taking work and returns once nothing runs "
                "(Control.Drain; with API keys an admin key)");
  cmd->add_option("--drain-timeout", a->drain_timeout_s,
                  "seconds running streams may take before they are aborted (0: the server's)");
  cmd->add_option("--abort", a->abort_id, "abort the request with this id (Control.Abort)");
  cmd->add_option("--tenant", a->abort_tenant,
                  "with --abort and an admin key: the tenant of the request");
  cmd->add_flag("--chat", a->chat, "send the prompt as a user chat message");
  cmd->add_option("--max-tokens", a->max_tokens, "tokens to generate at most (256)");
  cmd->add_option("--temperature", a->temperature, "0 = greedy (default)");
  cmd->add_option("--timeout", a->timeout_s, "call deadline in seconds (600)");
  cmd->callback([a, exit_code] { *exit_code = RunClient(*a); });
}

}  // namespace hearth::cli
