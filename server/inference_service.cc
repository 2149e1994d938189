#include "server/inference_service.h"

#include <grpcpp/support/server_callback.h>

namespace hearth::server {
namespace {

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "OTHER";
  }
}

// Converts the call's deadline (system clock) into the engine's steady clock.
std::optional<engine::Clock::time_point> DeadlineOf(const grpc::CallbackServerContext& call) {
  const auto deadline = call.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return std::nullopt;
  const auto left = deadline - std::chrono::system_clock::now();
  if (left > std::chrono::hours(24 * 365)) return std::nullopt;
  return engine::Clock::now() + std::chrono::duration_cast<engine::Clock::duration>(left);
}

class GenerateReactor : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  // The request is prepared and submitted on the prepare pool (ServiceContext::Prepare); the
  // call and the request stay valid until Finish, which only the preparation or the stream's
  // end calls.
  GenerateReactor(const ServiceContext* context, grpc::CallbackServerContext* call,
                  const v1::GenerateRequest* request, std::string request_id)
      : context_(context), request_id_(std::move(request_id)) {
    if (!context_->Prepare([this, call, request] { Start(Submit(*call, *request)); }))
      Start(Status(StatusCode::kResourceExhausted,
                   "the server is preparing too many requests; retry later"));
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      write_failed_ = true;
      stream_->Cancel();
    }
    WriteNext();
  }
  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    if (stream_ != nullptr) stream_->Cancel();
  }
  void OnDone() override { delete this; }

 private:
  // After the preparation: refuse, or stream.
  void Start(Status status) {
    if (!status.ok()) {
      grpc::Status g = ToGrpcStatus(status);
      if (context_->metrics != nullptr) context_->metrics->OnRefused(CodeName(g.error_code()));
      Finish(g);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_) stream_->Cancel();  // the client left while it was prepared
    }
    stream_->SetOnReady([this] { WriteNext(); });
    WriteNext();
  }

  Status Submit(const grpc::CallbackServerContext& call, const v1::GenerateRequest& request) {
    HEARTH_ASSIGN_OR_RETURN(std::string key_tenant, context_->Authenticate(call));
    MappingContext mapping = context_->mapping;
    mapping.auth_enabled = context_->api_keys.enabled();
    mapping.key_tenant = std::move(key_tenant);
    HEARTH_ASSIGN_OR_RETURN(engine::EngineRequest r, ToEngineRequest(request, mapping));
    r.request_id = context_->EngineRequestId(r.tenant, request_id_);
    r.deadline = DeadlineOf(call);
    HEARTH_ASSIGN_OR_RETURN(std::shared_ptr<engine::OutputStream> stream,
                            context_->engine->Submit(std::move(r)));
    std::lock_guard<std::mutex> lock(mu_);
    stream_ = std::move(stream);
    return Status::Ok();
  }

  // Only one caller at a time: the constructor, OnWriteDone (no write in flight), or the
  // engine's ready callback (armed only while no write is in flight).
  void WriteNext() {
    while (true) {
      std::optional<engine::OutputChunk> chunk = stream_->TakeOrArm();
      if (!chunk) return;  // armed: the engine calls back
      const bool final = chunk->final;
      Status status = chunk->status;
      FillResponse(*chunk, request_id_, *context_->mapping.codec, &response_);
      if (final) {
        if (write_failed_) return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
        if (!status.ok()) return Finish(ToGrpcStatus(status));
        return StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
      }
      if (write_failed_) continue;  // nobody is listening: drain to the final chunk
      return StartWrite(&response_);
    }
  }

  const ServiceContext* context_;
  std::string request_id_;
  std::mutex mu_;  // stream_'s assignment (preparation) against OnCancel; cancelled_
  std::shared_ptr<engine::OutputStream> stream_;
  bool cancelled_ = false;
  v1::GenerateResponse response_;
  bool write_failed_ = false;
};

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* call, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

}  // namespace

grpc::ServerWriteReactor<v1::GenerateResponse>* InferenceService::Generate(
    grpc::CallbackServerContext* call, const v1::GenerateRequest* request) {
  std::string id = request->request_id();
  if (id.empty()) id = "hearth-" + std::to_string(next_id_.fetch_add(1));
  return new GenerateReactor(context_, call, request, std::move(id));
}

grpc::ServerUnaryReactor* InferenceService::Tokenize(grpc::CallbackServerContext* call,
                                                     const v1::TokenizeRequest* request,
                                                     v1::TokenizeResponse* response) {
  if (auto t = context_->Authenticate(*call); !t.ok()) return Done(call, ToGrpcStatus(t.status()));
  if (Status s = ValidateTokenize(*request, context_->mapping); !s.ok())
    return Done(call, ToGrpcStatus(s));
  return Prepared(call, [this, request, response] {
    const engine::TextCodec& codec = *context_->mapping.codec;
    const bool add_special = !request->has_add_special_tokens() || request->add_special_tokens();
    for (int32_t id : codec.Encode(request->text(), add_special, request->parse_special())) {
      response->add_ids(id);
      response->add_pieces(PieceText(codec, id));
    }
  });
}

grpc::ServerUnaryReactor* InferenceService::Detokenize(grpc::CallbackServerContext* call,
                                                       const v1::DetokenizeRequest* request,
                                                       v1::DetokenizeResponse* response) {
  if (auto t = context_->Authenticate(*call); !t.ok()) return Done(call, ToGrpcStatus(t.status()));
  if (Status s = ValidateDetokenize(*request, context_->mapping); !s.ok())
    return Done(call, ToGrpcStatus(s));
  return Prepared(call, [this, request, response] {
    std::vector<int32_t> ids(request->ids().begin(), request->ids().end());
    response->set_text(context_->mapping.codec->Decode(ids, request->skip_special_tokens()));
  });
}

grpc::ServerUnaryReactor* InferenceService::Prepared(grpc::CallbackServerContext* call,
                                                     std::function<void()> work) {
  grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
  if (!context_->Prepare([reactor, work = std::move(work)] {
        work();
        reactor->Finish(grpc::Status::OK);
      }))
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "the server is preparing too many requests; retry later"));
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::GetModelInfo(grpc::CallbackServerContext* call,
                                                         const v1::GetModelInfoRequest*,
                                                         v1::ModelInfo* response) {
  if (auto t = context_->Authenticate(*call); !t.ok()) return Done(call, ToGrpcStatus(t.status()));
  *response = context_->model_info;
  return Done(call, grpc::Status::OK);
}

}  // namespace hearth::server
