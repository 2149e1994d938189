// The CUDA stream type, declared without the CUDA headers so that op headers compile in a
// CPU-only build. Identical to the runtime's own `typedef struct CUstream_st* cudaStream_t`.
#pragma once

struct CUstream_st;
using cudaStream_t = CUstream_st*;
