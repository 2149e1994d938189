// Test helper for the oracle check (check_dequant_oracle.py): dequantizes a raw file of GGUF
// blocks with DequantizeCpu and writes the float32 values.
//   dequant_tool <TYPE name, e.g. Q4_K> <num_elems> <in.bin> <out.f32>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "kernels/quant/dequant.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s TYPE NUM_ELEMS IN.bin OUT.f32\n", argv[0]);
    return 2;
  }
  const auto type = hearth::DTypeFromName(argv[1]);
  if (!type) {
    std::fprintf(stderr, "unknown type %s\n", argv[1]);
    return 2;
  }
  const int64_t num_elems = std::strtoll(argv[2], nullptr, 10);
  std::ifstream in(argv[3], std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  const auto expected = hearth::DTypeBytes(*type, num_elems);
  if (!expected || static_cast<size_t>(*expected) != bytes.size()) {
    std::fprintf(stderr, "%s holds %zu bytes, %lld elements of %s need %lld\n", argv[3],
                 bytes.size(), static_cast<long long>(num_elems), argv[1],
                 static_cast<long long>(expected.value_or(-1)));
    return 1;
  }
  std::vector<float> out(num_elems);
  const hearth::Status s = hearth::DequantizeCpu(*type, bytes.data(), out.data(), num_elems);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::ofstream(argv[4], std::ios::binary)
      .write(reinterpret_cast<const char*>(out.data()), out.size() * sizeof(float));
  return 0;
}
