// GPU test helpers (header-only; include only from tests built with HEARTH_CUDA): device buffers,
// float <-> F32/F16/BF16 encoding, poisoning, and a comparison that reports the worst element.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/core/check.h"
#include "kernels/core/dtype.h"
#include "kernels/core/half.h"
#include "tests/support/test_support.h"

// Aborts the test binary with the statement, file and line if a CUDA call fails.
#define HEARTH_CUDA_OK(stmt)                                                                      \
  do {                                                                                            \
    const cudaError_t hearth_e_ = (stmt);                                                         \
    if (hearth_e_ != cudaSuccess)                                                                 \
      ::hearth::internal::CheckFailed(__FILE__, __LINE__,                                         \
                                      std::string(#stmt) + ": " + cudaGetErrorString(hearth_e_)); \
  } while (0)

namespace hearth::testing {

// Bytes of `v` in dtype F32, F16 or BF16 (round to nearest even, as the CUDA intrinsics).
inline std::vector<uint8_t> Encode(DType dtype, const std::vector<float>& v) {
  const size_t eb = GetDTypeInfo(dtype).block_bytes;
  std::vector<uint8_t> out(v.size() * eb);
  for (size_t i = 0; i < v.size(); ++i) {
    if (dtype == DType::kF32) {
      std::memcpy(&out[i * 4], &v[i], 4);
    } else {
      const uint16_t h = dtype == DType::kF16 ? FloatToFp16(v[i]) : FloatToBf16(v[i]);
      std::memcpy(&out[i * 2], &h, 2);
    }
  }
  return out;
}

inline std::vector<float> Decode(DType dtype, const std::vector<uint8_t>& b) {
  const size_t eb = GetDTypeInfo(dtype).block_bytes;
  std::vector<float> out(b.size() / eb);
  for (size_t i = 0; i < out.size(); ++i) {
    if (dtype == DType::kF32) {
      std::memcpy(&out[i], &b[i * 4], 4);
    } else {
      uint16_t h;
      std::memcpy(&h, &b[i * 2], 2);
      out[i] = dtype == DType::kF16 ? Fp16ToFloat(h) : Bf16ToFloat(h);
    }
  }
  return out;
}

// `v` rounded to dtype and back: the values the GPU actually sees.
inline std::vector<float> RoundTo(DType dtype, const std::vector<float>& v) {
  return Decode(dtype, Encode(dtype, v));
}

// A device allocation that frees itself.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    HEARTH_CUDA_OK(cudaMalloc(&ptr_, bytes == 0 ? 16 : bytes));
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(ptr_); }

  // Holding `v` encoded as dtype.
  static DeviceBuffer FromFloats(DType dtype, const std::vector<float>& v) {
    const std::vector<uint8_t> b = Encode(dtype, v);
    DeviceBuffer d(b.size());
    d.Upload(b.data(), b.size());
    return d;
  }
  template <class T>
  static DeviceBuffer FromVector(const std::vector<T>& v) {
    DeviceBuffer d(v.size() * sizeof(T));
    d.Upload(v.data(), v.size() * sizeof(T));
    return d;
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr; }

  void Upload(const void* src, size_t bytes) {
    HEARTH_CHECK_LE(bytes, bytes_);
    HEARTH_CUDA_OK(cudaMemcpy(ptr_, src, bytes, cudaMemcpyHostToDevice));
  }
  void Poison() { HEARTH_CUDA_OK(cudaMemset(ptr_, kPoisonByte, bytes_)); }
  std::vector<uint8_t> Bytes() const {
    std::vector<uint8_t> b(bytes_);
    HEARTH_CUDA_OK(cudaDeviceSynchronize());
    HEARTH_CUDA_OK(cudaMemcpy(b.data(), ptr_, bytes_, cudaMemcpyDeviceToHost));
    return b;
  }
  std::vector<float> Floats(DType dtype) const { return Decode(dtype, Bytes()); }
  template <class T>
  std::vector<T> ToVector() const {
    std::vector<uint8_t> b = Bytes();
    std::vector<T> v(b.size() / sizeof(T));
    std::memcpy(v.data(), b.data(), v.size() * sizeof(T));
    return v;
  }

  void* get() const { return ptr_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Relative L2 error of `out` against `ref` within `tol`; on failure the message names the
// worst element (index, value, reference). NaN or inf anywhere fails (RelL2 = inf).
inline ::testing::AssertionResult CloseRelL2(const std::vector<float>& out,
                                             const std::vector<float>& ref, double tol) {
  if (out.size() != ref.size())
    return ::testing::AssertionFailure() << "size " << out.size() << " vs reference " << ref.size();
  const double err = RelL2(out, ref);
  if (err <= tol) return ::testing::AssertionSuccess();
  size_t worst = 0;
  double worst_d = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    const double d =
        std::isfinite(out[i]) ? std::fabs(static_cast<double>(out[i]) - ref[i]) : INFINITY;
    if (d > worst_d) worst_d = d, worst = i;
    if (std::isinf(d)) break;
  }
  return ::testing::AssertionFailure()
         << "rel L2 error " << err << " > " << tol << "; worst element [" << worst
         << "] = " << out[worst] << ", reference " << ref[worst];
}

}  // namespace hearth::testing
