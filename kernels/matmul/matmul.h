// Linear layers: y[num_tokens, n] = x[num_tokens, k] . W^T (+ bias), W [n, k] row-major in any
// weight type (PyTorch Linear layout; a GGUF 2-D tensor with ne0 = k, ne1 = n), each row of W
// being k / block_elems blocks. See README.md for the kernels and the weight layout on the GPU.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "kernels/core/dtype.h"
#include "kernels/core/status.h"
#include "kernels/core/stream.h"

namespace hearth {

// ---- CPU ------------------------------------------------------------------------------------
// Batch-invariant and thread-count-invariant: each output element is one fixed-order float32
// dot product of a dequantized weight row with one row of x.
Status MatmulCpu(DType w_type,
                 const void* w,      // [n, k] of w_type
                 const float* x,     // [num_tokens, k]
                 const float* bias,  // [n] or nullptr
                 float* y,           // [num_tokens, n]
                 int num_tokens, int n, int k);

// The CPU code paths. Every path computes each output as the same float32 operations in the
// same order (the scalar Dot() of matmul_cpu.cc), so all give bit-identical results.
enum class CpuMatmulPath : uint8_t {
  kScalar,         // portable C++: a tile of 16 rows decoded, one Dot() per (token, row)
  kAvx2Fused,      // AVX2, Q4_0/Q4_1/Q5_0/Q5_1/Q8_0: W decoded block by block in registers
                   // straight into the dots of 2 rows x up to 3 tokens (4 rows x 1 token)
  kAvx2Blocked,    // AVX2: a tile decoded once into a buffer, then 2 rows x 3 tokens per inner
                   // kernel (each loaded weight vector used by 3 tokens, each x vector by 2 rows)
  kAvx2TokenDots,  // AVX2: a tile decoded once, then one 4-row dot per token (the loop of the
                   // multi-token path before 2026-11-22, kept for comparisons; MatmulCpu takes
                   // it for 2+ tokens when HEARTH_CPU_MATMUL=token_dots)
};
inline constexpr int kMaxCpuFusedTokens = 3;
// What MatmulCpu runs (pure): kScalar without AVX2; kAvx2Fused for 1..kMaxCpuFusedTokens tokens
// of a type it has; else kAvx2Blocked.
CpuMatmulPath SelectCpuMatmulPath(DType w, int num_tokens, bool has_avx2);
std::string_view CpuMatmulPathName(CpuMatmulPath path);
// MatmulCpu on a chosen path (tests, benchmarks). kUnimplemented for an AVX2 path on a CPU
// without AVX2 / F16C, or for kAvx2Fused on a type it does not have.
Status MatmulCpuOnPath(CpuMatmulPath path, DType w_type, const void* w, const float* x,
                       const float* bias, float* y, int num_tokens, int n, int k);

// ---- CPU, 8-bit activations (matmul_cpu_int8.cc) ----------------------------------------------
// The CPU matmul as llama.cpp's CPU backend and the GPU's integer GEMVs compute it: each token's x
// quantized to int8 blocks of 32 (the GPU's quantizer, QuantizeRowQ8Cpu; a block holding inf or
// NaN makes its outputs NaN) and multiplied with the weights' integer quants 32 at a time, scales
// applied in float32 per 32 (Q8_0, Q4_0..Q5_1, Q4_K, Q5_K) or 16 (Q2_K, Q3_K, Q6_K) weights.
// Results differ from MatmulCpu by x's 8-bit rounding (relative L2 ~4e-3 on random x); they are
// batch- and thread-invariant, and the AVX2 and the portable path give the same bits
// (matmul_cpu_int8.cc defines the arithmetic). About 3x the float path's speed on a large K-quant
// model (benchmarks/cpu_decode/README.md).
bool HasCpuInt8Matmul(DType w);  // every GGUF block type: Q8_0, Q4_0..Q5_1, Q2_K..Q6_K
// MatmulCpu's contract; the float weight types (F32, F16, BF16) run MatmulCpu.
Status MatmulCpuInt8(DType w_type,
                     const void* w,      // [n, k] of w_type
                     const float* x,     // [num_tokens, k]
                     const float* bias,  // [n] or nullptr
                     float* y,           // [num_tokens, n]
                     int num_tokens, int n, int k);
// The 8-bit path alone, AVX2 or portable (tests, benchmarks): kUnimplemented for a type without
// it, or for avx2 on a CPU without AVX2 / F16C.
Status MatmulCpuInt8OnPath(bool avx2, DType w_type, const void* w, const float* x,
                           const float* bias, float* y, int num_tokens, int n, int k);

// What the CPU backend's linear layers run: kF32 MatmulCpu (float32 activations, the reference
// the GPU kernels are tested against; the default), kInt8 MatmulCpuInt8.
enum class CpuMatmulMode : uint8_t { kF32, kInt8 };
// "f32" / "float32" / "" -> kF32, "int8" -> kInt8; anything else is an error naming the choices.
Result<CpuMatmulMode> ParseCpuMatmulMode(std::string_view name);
std::string_view CpuMatmulModeName(CpuMatmulMode mode);
Status MatmulCpuWith(CpuMatmulMode mode, DType w_type, const void* w, const float* x,
                     const float* bias, float* y, int num_tokens, int n, int k);

// ---- kernel choice (pure; unit-tested on the CPU) ----------------------------------------------
enum class MatmulKernel : uint8_t {
  kCublasLt,           // bf16/f16 weights: cuBLASLt, per-shape algorithm cached
  kQuantGemv,          // block weights, 1..8 tokens: fused dequantize + skinny GEMM in float
  kQuantGemvQ8,        // Q8_0/Q4_K/Q6_K, 1..8 tokens: x quantized to int8, dp4a GEMV, the
                       // weights staged through shared memory
  kQuantGemvQ8Direct,  // Q2_K..Q6_K; Q8_0, Q4_0..Q5_1 (k % 128 == 0), 1..8 tokens: the
                       // same arithmetic, the weights loaded straight into registers
  kDequantCublasLt,    // block weights (or f32), more tokens: dequantize W to scratch, cuBLASLt
  kQuantMma,           // block weights, up to kMaxQuantMmaTokens tokens: tiles of W decoded
                       // into shared memory feed mma.sync
  kScalarGemv,         // f32 weights with k % 8 != 0, 1..8 tokens: one element a lane at a time
  kUnsupported,
};
inline constexpr int kMaxGemvTokens = 8;

// Which kernel takes how many tokens of a GGUF block type by default, from bench_matmul on an
// H100 (2026-11-23 and 2026-11-25, bf16 activations, Llama-3-8B's 4096x4096, 14336x4096,
// 4096x14336; benchmarks/RESULTS.md): 1..direct_gemv the direct integer GEMV (where
// HasDirectGemv, else the next), ..gemv the type's GEMV (staged integer for Q4_K, Q6_K, Q8_0,
// direct for Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q5_K, else float), ..mma the fused dequantize
// + MMA, more: dequantize + cuBLASLt.
// The MMA's time is flat in the token count up to its 16-token tile, where a GEMV's grows with
// it. Every count from 1 to 8 measured (2026-11-25), summed over the three shapes with the gate /
// up shape twice (fused, 28672 x 4096): Q4_K direct GEMV 1-6, staged 7 (within 2% of the direct
// GEMV and the MMA there), MMA from 8; Q5_K direct 1-7; Q6_K and Q8_0 direct at 1 token (1.03-
// 1.14x the staged one chained, as in a decode step), staged at 2-3, MMA from 4; Q5_0 and Q5_1
// direct at 1-3, Q4_0, Q4_1, Q2_K and Q3_K at 1-2 (1.1-1.7x the float GEMV), MMA from there.
// Up to 64 tokens the MMA beats dequantize + cuBLASLt by 1.3-2.7x.
struct QuantKernelRanges {
  int direct_gemv;
  int gemv;
  int mma;
};
QuantKernelRanges DefaultQuantKernelRanges(DType w);  // w quantized

// The default choice (pure), for BF16 / F16 activations.
MatmulKernel SelectMatmulKernel(DType w, int num_tokens, int n, int k);
// The environment's say over steps of up to kMaxGemvTokens tokens of block weights (HEARTH_GEMV,
// read once by GpuMatmul::Create): "float" the float GEMV (a fallback and a benchmark baseline),
// "staged" the staged integer GEMV, "direct" the direct integer GEMV, each where the type has it
// (else the type's own GEMV). Unset or empty: kNone (SelectMatmulKernel's choice); anything else
// is an error naming the choices.
enum class GemvOverride : uint8_t { kNone, kFloat, kStaged, kDirect };
Result<GemvOverride> ParseGemvOverride(const char* env_value);
// The environment's say over the fused dequantize + MMA (HEARTH_QUANT_GEMM, read once by
// GpuMatmul::Create): unset or empty: kAuto (SelectMatmulKernel's choice); "dequant" never (the
// GEMVs up to kMaxGemvTokens tokens, dequantize + cuBLASLt above); "fused" for every step of
// kMaxGemvTokens + 1..kMaxQuantMmaTokens tokens. Anything else is an error naming the choices.
enum class QuantGemm : uint8_t { kAuto, kDequant, kFused };
Result<QuantGemm> ParseQuantGemm(const char* env_value);
// What GpuMatmul::Run runs: SelectMatmulKernel's choice, changed by the overrides as above; and
// for activations other than BF16 / F16 (F32: validation only), the integer GEMVs and the MMA
// give way to the float GEMV (up to kMaxGemvTokens tokens) or dequantize + cuBLASLt (which then
// reports the activation type unsupported).
MatmulKernel SelectMatmulKernelForRun(DType w, DType act, int num_tokens, int n, int k,
                                      GemvOverride gemv = GemvOverride::kNone,
                                      QuantGemm gemm = QuantGemm::kAuto);
// Whether GpuMatmul::RunKernel can run `kernel` on this case (type, activations, tokens, k); the
// benchmarks time every such kernel beside the selected one.
bool MatmulKernelRuns(MatmulKernel kernel, DType w, DType act, int num_tokens, int n, int k);
std::string_view MatmulKernelName(MatmulKernel kernel);

// The alignment (bytes) every column of a cuBLASLt operand has when its base is `base_alignment`
// aligned and its columns are ld_elems elements of elem_bytes apart: the largest power of two
// dividing both (16 for SmolLM2's k = 576 in bf16; 8 for stories260K's k = 172). cuBLASLt is
// told this, not the base's alignment, so that it never picks an algorithm whose vector loads
// would straddle a column start. Pure.
uint32_t GemmOperandAlignment(int64_t ld_elems, int elem_bytes, uint32_t base_alignment = 16);

// ---- GPU ------------------------------------------------------------------------------------
// Owns the cuBLASLt handle, its workspace, the per-shape algorithm cache and the dequantization
// scratch. Not thread-safe: one per stream/worker.
class GpuMatmul {
 public:
  // Reads HEARTH_GEMV and HEARTH_QUANT_GEMM once (ParseGemvOverride, ParseQuantGemm); an unknown
  // value is an error.
  static Result<std::unique_ptr<GpuMatmul>> Create();
  // The device memory Create allocates (the int8 activation scratch and, unless
  // HEARTH_QUANT_GEMM=dequant, the MMA's split-k scratch), for memory budgets; Reserve's scratch
  // comes on top.
  static int64_t CreateBytes();
  ~GpuMatmul();
  GpuMatmul(const GpuMatmul&) = delete;
  GpuMatmul& operator=(const GpuMatmul&) = delete;

  // Pre-allocates the dequantization scratch for weights of up to max_weight_elems elements so
  // that Run never allocates (needed for CUDA graph capture of large batches).
  Status Reserve(int64_t max_weight_elems);

  // act_type: BF16 or F16 for every kernel; F32 only where the selected kernel is kQuantGemv.
  // x, y, bias are device pointers of act_type; w is device memory in w_type's GGUF layout.
  Status Run(DType w_type,
             const void* w,  // [n, k] of w_type
             DType act_type,
             const void* x,     // [num_tokens, k]
             const void* bias,  // [n] or nullptr
             void* y,           // [num_tokens, n]
             int num_tokens, int n, int k, cudaStream_t stream);
  // Run with `dense` (nullable): w already dequantized to act_type, [n, k]. Where Run would
  // dequantize w into its scratch for cuBLASLt (kDequantCublasLt), cuBLASLt reads dense instead:
  // the same values (DequantizeGpu made them) and the same GEMM, so the same result, without
  // rewriting and rereading the whole matrix every step.
  Status RunWithDense(DType w_type, const void* w, const void* dense, DType act_type, const void* x,
                      const void* bias, void* y, int num_tokens, int n, int k, cudaStream_t stream);
  // The same with a kernel of the caller's choice (tests, benchmarks): an error where
  // MatmulKernelRuns says it cannot run this case.
  Status RunKernel(MatmulKernel kernel, DType w_type, const void* w, DType act_type, const void* x,
                   const void* bias, void* y, int num_tokens, int n, int k, cudaStream_t stream);

 private:
  struct Impl;
  explicit GpuMatmul(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The fused dequantize + skinny GEMM alone (num_tokens <= kMaxGemvTokens, k a multiple of the
// block size); act_type BF16, F16 or F32. Exposed for tests and benchmarks.
Status LaunchQuantGemv(DType w_type, const void* w, DType act_type, const void* x, const void* bias,
                       void* y, int num_tokens, int n, int k, cudaStream_t stream);

// The GEMV for F32 weights of any k (the 8-element groups of LaunchQuantGemv need k % 8 == 0;
// stories260K's w_down has k = 172): one warp per row, lanes striding over k one element at a
// time, 1 <= num_tokens <= 8; act_type BF16, F16 or F32, no alignment needed beyond the element.
// For the validation models only: it reads W with 4-byte loads.
Status LaunchScalarGemv(const float* w, DType act_type, const void* x, const void* bias, void* y,
                        int num_tokens, int n, int k, cudaStream_t stream);

// The integer GEMV alone: x (BF16/F16) is quantized to int8 blocks of 32 in `scratch` (at least
// QuantGemvQ8ScratchBytes(num_tokens, k) bytes, 16-byte aligned), then W (Q8_0, Q4_K or Q6_K) is
// multiplied with dp4a. Results differ from the float path by the int8 rounding of x (relative
// ~4e-3 for random x); they equal MatmulCpu on QuantizeActivationsQ8Cpu's x up to float rounding.
int64_t QuantGemvQ8ScratchBytes(int num_tokens, int k);
Status LaunchQuantGemvQ8(DType w_type, const void* w, DType act_type, const void* x,
                         const void* bias, void* y, int num_tokens, int n, int k, void* scratch,
                         int64_t scratch_bytes, cudaStream_t stream);
// The same for Q2_K..Q6_K, and Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 with k % 128 == 0, with the
// direct weight walk (kernels/matmul/gemv_direct.h): the same per-unit arithmetic, a different
// summation order, so results differ from LaunchQuantGemvQ8's in the last bits; each is
// batch-invariant on its own.
// Q2_K, Q3_K, Q5_K, Q4_0, Q4_1, Q5_0 and Q5_1 have only this one (Q5_K's per-unit arithmetic is
// Q4_K's with 5-bit quants, Q4_0..Q5_1's Q8_0's with 4- and 5-bit quants; Q2_K's and Q3_K's their
// own: 2- and 3-bit quants, a scale (and for Q2_K a min) per 16 weights).
Status LaunchQuantGemvQ8Direct(DType w_type, const void* w, DType act_type, const void* x,
                               const void* bias, void* y, int num_tokens, int n, int k,
                               void* scratch, int64_t scratch_bytes, cudaStream_t stream);

// The fused dequantize + tensor-core GEMM alone (kernels/matmul/quant_mma.h): W of a GGUF block
// type, act_type BF16 or F16, any num_tokens >= 1 (tiles of 16, 32, 64 tokens), W and x 16-byte
// aligned. y = x · (W dequantized and rounded to act_type)ᵀ (+ bias), fp32 accumulation. Matrices
// of few rows split k: then `scratch` must hold QuantMmaScratchBytes(num_tokens, n, k) bytes
// (at most kQuantMmaMaxScratchBytes up to kMaxQuantMmaTokens tokens); otherwise it may be null.
Status LaunchQuantMma(DType w_type, const void* w, DType act_type, const void* x, const void* bias,
                      void* y, int num_tokens, int n, int k, void* scratch, int64_t scratch_bytes,
                      cudaStream_t stream);
// The same with k cut into k_splits ranges (at most one per 256-element step) instead of
// PlanQuantMma's choice, for the benchmark that tunes that choice; splits need k_splits *
// num_tokens * n * 4 bytes of scratch.
Status LaunchQuantMmaSplit(int k_splits, DType w_type, const void* w, DType act_type, const void* x,
                           const void* bias, void* y, int num_tokens, int n, int k, void* scratch,
                           int64_t scratch_bytes, cudaStream_t stream);

// CPU twin of the integer GEMV's activation quantization: x [num_tokens, k] (k % 32 == 0) replaced
// by its int8 round trip d * q, blockwise as the GPU does it. MatmulCpu on the result is the
// reference for kQuantGemvQ8.
void QuantizeActivationsQ8Cpu(float* x, int num_tokens, int k);

}  // namespace hearth
