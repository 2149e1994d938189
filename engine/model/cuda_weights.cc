#include "engine/model/cuda_weights.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "kernels/core/cuda_check.h"
#include "kernels/quant/dequant.h"
#include "model_loader/weights.h"

namespace hearth::engine::model {
namespace {

constexpr int64_t kStagingBytes = int64_t{64} << 20;

// Frees the staging buffer on every return path.
struct DeviceScratch {
  void* p = nullptr;
  ~DeviceScratch() {
    if (p != nullptr) cudaFree(p);
  }
};

// Copies `src` (host, src->dtype) to `dst` (device, `type`), converting float types on the device.
Status UploadPart(const WeightView& src, DType type, uint8_t* dst, void* staging,
                  cudaStream_t stream) {
  const int64_t elems = src.num_elements();
  if (src.dtype == type) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src.data, src.nbytes, cudaMemcpyHostToDevice, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
    return Status::Ok();
  }
  // Conversion (float -> activation dtype, quantized -> activation dtype for the embedding
  // table): chunks of whole source blocks through the staging buffer.
  const DTypeInfo in = GetDTypeInfo(src.dtype);
  const int64_t out_elem = GetDTypeInfo(type).block_bytes;
  const int64_t chunk_blocks = std::max<int64_t>(1, kStagingBytes / in.block_bytes);
  const int64_t total_blocks = elems / in.block_elems;
  for (int64_t b = 0; b < total_blocks; b += chunk_blocks) {
    const int64_t n = std::min(chunk_blocks, total_blocks - b);
    CUDA_CHECK(cudaMemcpyAsync(staging, src.data + b * in.block_bytes, n * in.block_bytes,
                               cudaMemcpyHostToDevice, stream));
    HEARTH_RETURN_IF_ERROR(DequantizeGpu(
        src.dtype, staging, type, dst + b * in.block_elems * out_elem, n * in.block_elems, stream));
    // The staging buffer is reused by the next chunk.
    CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<CudaWeights>> CudaWeights::Upload(const DeviceWeightPlan& plan,
                                                         const DecoderSpec& spec,
                                                         cudaStream_t stream) {
  std::unique_ptr<CudaWeights> w(new CudaWeights());
  CUDA_CHECK(cudaMalloc(&w->arena_, std::max<int64_t>(plan.total_bytes, 256)));
  w->bytes_ = plan.total_bytes;
  DeviceScratch staging;
  CUDA_CHECK(cudaMalloc(&staging.p, kStagingBytes));
  auto* base = static_cast<uint8_t*>(w->arena_);
  for (const DeviceTensor& t : plan.tensors) {
    int64_t offset = t.offset;
    for (const WeightView* part : t.parts) {
      const Status s = UploadPart(*part, t.type, base + offset, staging.p, stream);
      if (!s.ok()) {
        return Status(s.code(), "uploading weight " + t.name + " (" + part->source_name + ", " +
                                    std::string(DTypeName(part->dtype)) + " -> " +
                                    std::string(DTypeName(t.type)) + "): " + s.message());
      }
      offset += *DTypeBytes(t.type, part->num_elements());
    }
    if (t.dense_offset >= 0) {  // the dequantized copy, from the blocks just uploaded
      const Status s = DequantizeGpu(t.type, base + t.offset, plan.act, base + t.dense_offset,
                                     t.rows * t.cols, stream);
      if (!s.ok()) {
        return Status(s.code(), "dequantizing weight " + t.name + ": " + s.message());
      }
      CUDA_CHECK(cudaStreamSynchronize(stream));
    }
  }
  w->decoder_ = BindDeviceWeights(plan, spec, base);
  return w;
}

CudaWeights::~CudaWeights() {
  if (arena_ != nullptr) cudaFree(arena_);
}

}  // namespace hearth::engine::model
