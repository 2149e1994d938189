// Device weights of a decoder (CUDA builds only): one arena laid out by PlanDeviceWeights, filled
// once at start from the model's host mappings (float types converted to the activation dtype on
// the device through a 64 MiB staging buffer, quantized blocks copied as they are).
#pragma once

#include <cstdint>
#include <memory>

#include "engine/model/decoder_spec.h"
#include "engine/model/device_weight_plan.h"
#include "kernels/core/stream.h"

namespace hearth::engine::model {

class CudaWeights {
 public:
  // Allocates plan.total_bytes on the current device and uploads every tensor. Errors name the
  // tensor and the failing CUDA call.
  static Result<std::unique_ptr<CudaWeights>> Upload(const DeviceWeightPlan& plan,
                                                     const DecoderSpec& spec, cudaStream_t stream);
  ~CudaWeights();
  CudaWeights(const CudaWeights&) = delete;
  CudaWeights& operator=(const CudaWeights&) = delete;

  const DecoderWeights& decoder() const { return decoder_; }
  int64_t bytes() const { return bytes_; }

 private:
  CudaWeights() = default;
  void* arena_ = nullptr;
  int64_t bytes_ = 0;
  DecoderWeights decoder_;
};

}  // namespace hearth::engine::model
