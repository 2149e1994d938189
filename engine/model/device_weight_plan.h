// Where each weight of a decoder goes in device memory, decided on the host (pure, unit-tested
// without a GPU); engine/model/cuda_weights.cc copies the bytes. One arena holds every tensor:
//   - matrices: float types (F32/F16/BF16) converted to the activation dtype, quantized GGUF types
//     kept as their blocks (kernels/quant/blocks.h; rows of k / block_elems blocks);
//   - wq|wk|wv concatenated by rows into one wqkv (bq|bk|bv into bqkv) and w_gate|w_up into one
//     w_gate_up when the parts have the same device type, so the recipe runs one GEMM each;
//   - the embedding table in the activation dtype (a quantized table is dequantized: the lookup
//     kernel reads float types only); a tied LM head then keeps its own quantized copy for the
//     GEMV, a float one shares the table;
//   - norm vectors float32, biases in the activation dtype (GpuMatmul's bias epilogue).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/model/decoder_spec.h"
#include "kernels/core/dtype.h"
#include "kernels/core/status.h"

namespace hearth {
struct WeightView;
}

namespace hearth::engine::model {

struct DeviceTensor {
  std::string name;                      // canonical name ("layers.3.wqkv"), for messages
  std::vector<const WeightView*> parts;  // host views, concatenated along rows
  DType type = DType::kF32;              // on the device
  int64_t rows = 0;                      // matrices: n (sum over parts); vectors: 1
  int64_t cols = 0;                      // matrices: k; vectors: elements (sum over parts)
  int64_t offset = 0;                    // in the arena, 256-byte aligned
  int64_t bytes = 0;
  // Quantized matrices with dequantized copies: the copy's offset (in the activation dtype,
  // rows * cols elements, filled on the device at upload), else -1.
  int64_t dense_offset = -1;
  int64_t dense_bytes = 0;
};

struct DeviceWeightPlan {
  std::vector<DeviceTensor> tensors;
  int64_t total_bytes = 0;
  bool fused_qkv = false;      // every layer (all or none)
  bool fused_gate_up = false;  // every layer (all or none)
  // Elements of the largest quantized matrix: the dequantize + cuBLASLt path's scratch (0 when
  // every quantized matrix has a dequantized copy).
  int64_t max_dequant_elems = 0;
  DType act = DType::kBF16;  // the activation dtype: the copies' type
  int64_t dense_bytes = 0;   // all dequantized copies together (within total_bytes)
  // Indices into tensors; -1 = absent.
  struct Layer {
    int attn_norm = -1, wq = -1, wk = -1, wv = -1, wo = -1, bq = -1, bk = -1, bv = -1, q_norm = -1,
        k_norm = -1, ffn_norm = -1, w_gate = -1, w_up = -1, w_down = -1, wqkv = -1, bqkv = -1,
        w_gate_up = -1;
  };
  int embed = -1, lm_head = -1, final_norm = -1;
  std::vector<Layer> layers;
};

// Errors name the weight: missing, wrong shape, rows not whole blocks.
// dequant_copies (bf16 / fp16 activations only): every quantized matrix also gets a copy in the
// activation dtype, which steps beyond the fused MMA's token range multiply with cuBLASLt
// directly instead of dequantizing the matrix into scratch every step (GpuMatmul::RunWithDense).
// Costs 2 bytes per weight (16 GB for an 8B model), taken from the KV cache's share.
Result<DeviceWeightPlan> PlanDeviceWeights(const Weights& weights, const DecoderSpec& spec,
                                           DType act, bool allow_fusion = true,
                                           bool dequant_copies = false);

// Every matrix the recipe multiplies (all but a lookup-only embedding table) has a GPU matmul
// kernel for 1..max_tokens tokens with `act` activations (SelectMatmulKernelForRun): otherwise
// an Unimplemented error naming the weight, at start rather than at the first step. (float32
// runs only the GEMVs, in chunks of 8 tokens: the block GEMV, or the scalar one for F32 rows
// whose k is not a multiple of 8.)
Status CheckGpuMatmuls(const DeviceWeightPlan& plan, DType act, int max_tokens);

// DecoderWeights pointing into the arena at `base` (device memory laid out by the plan).
DecoderWeights BindDeviceWeights(const DeviceWeightPlan& plan, const DecoderSpec& spec,
                                 const uint8_t* base);

}  // namespace hearth::engine::model
