// hearth.v1.Control: Abort, Drain and GetLoad. Drain blocks for up to its timeout, so it runs
// on a thread of its own (joined when the service is destroyed), not on a gRPC callback thread.
#pragma once

#include <mutex>
#include <thread>
#include <vector>

#include "hearth/v1/control.grpc.pb.h"
#include "server/service_context.h"

namespace hearth::server {

class ControlService final : public v1::Control::CallbackService {
 public:
  explicit ControlService(const ServiceContext* context) : context_(context) {}
  ~ControlService() override;

  grpc::ServerUnaryReactor* Abort(grpc::CallbackServerContext* call,
                                  const v1::AbortRequest* request,
                                  v1::AbortResponse* response) override;
  grpc::ServerUnaryReactor* Drain(grpc::CallbackServerContext* call,
                                  const v1::DrainRequest* request,
                                  v1::DrainResponse* response) override;
  grpc::ServerUnaryReactor* GetLoad(grpc::CallbackServerContext* call,
                                    const v1::GetLoadRequest* request, v1::Load* response) override;

 private:
  const ServiceContext* context_;
  std::mutex mu_;
  std::vector<std::thread> drain_threads_;
};

}  // namespace hearth::server
