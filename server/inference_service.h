// hearth.v1.Inference on gRPC's callback API. Generate validates, submits to the engine and
// streams the request's OutputStream without ever blocking: the engine thread wakes the
// reactor when a chunk arrives, and chunks that pile up while a write is in flight go out
// merged. A cancelled call (client gone, deadline) aborts the request; the reactor still waits
// for the engine's final chunk before finishing, so the engine never calls into a dead reactor.
#pragma once

#include <atomic>

#include "hearth/v1/inference.grpc.pb.h"
#include "server/service_context.h"

namespace hearth::server {

class InferenceService final : public v1::Inference::CallbackService {
 public:
  explicit InferenceService(const ServiceContext* context) : context_(context) {}

  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* call, const v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* call,
                                     const v1::TokenizeRequest* request,
                                     v1::TokenizeResponse* response) override;
  grpc::ServerUnaryReactor* Detokenize(grpc::CallbackServerContext* call,
                                       const v1::DetokenizeRequest* request,
                                       v1::DetokenizeResponse* response) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* call,
                                         const v1::GetModelInfoRequest* request,
                                         v1::ModelInfo* response) override;

 private:
  // Runs a unary call's `work` (tokenizing or decoding: CPU time that grows with the input) on
  // the prepare pool, then finishes the call OK.
  grpc::ServerUnaryReactor* Prepared(grpc::CallbackServerContext* call, std::function<void()> work);

  const ServiceContext* context_;
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace hearth::server
