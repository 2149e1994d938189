#include <cstdio>
#include <cstdlib>
#include <string>

#include "kernels/sampling/sampler.h"

namespace hearth {

Result<SamplerFilterPath> ParseSamplerFilterPath(std::string_view name) {
  if (name.empty() || name == "window") return SamplerFilterPath::kWindow;
  if (name == "radix") return SamplerFilterPath::kRadix;
  return InvalidArgumentError("HEARTH_SAMPLER=" + std::string(name) +
                              ": expected \"window\" (the default) or \"radix\"");
}

const char* SamplerFilterPathName(SamplerFilterPath path) {
  return path == SamplerFilterPath::kRadix ? "radix" : "window";
}

const Result<SamplerFilterPath>& SamplerFilterPathFromEnv() {
  static const Result<SamplerFilterPath> path = []() -> Result<SamplerFilterPath> {
    const char* v = std::getenv("HEARTH_SAMPLER");
    Result<SamplerFilterPath> p = ParseSamplerFilterPath(v == nullptr ? "" : v);
    if (p.ok() && *p != SamplerFilterPath::kWindow) {
      std::fprintf(stderr, "hearth: sampler filtered rows use the %s path (HEARTH_SAMPLER)\n",
                   SamplerFilterPathName(*p));
    }
    return p;
  }();
  return path;
}

}  // namespace hearth
