#include <cstdio>
#include <cstdlib>
#include <string>

#include "kernels/sampling/sampler.h"

namespace hearth {

Result<SamplerFilterPath> ParseSamplerFilterPath(std::string_view name) {
  if (name.empty() || name == "window") return SamplerFilterPath::kWindow;
  if (name == "radix") return SamplerFilterPath::kRadix;
  return InvalidArgumentError("sampler path '" + std::string(name) + "' unknown (window, radix)");
}

const char* SamplerFilterPathName(SamplerFilterPath path) {
  return path == SamplerFilterPath::kRadix ? "radix" : "window";
}

SamplerFilterPath SamplerFilterPathFromEnv() {
  static const SamplerFilterPath path = [] {
    const char* v = std::getenv("HEARTH_SAMPLER");
    if (v == nullptr) return SamplerFilterPath::kWindow;
    Result<SamplerFilterPath> p = ParseSamplerFilterPath(v);
    if (!p.ok()) {
      std::fprintf(stderr, "hearth: ignoring HEARTH_SAMPLER: %s\n", p.status().ToString().c_str());
      return SamplerFilterPath::kWindow;
    }
    if (*p != SamplerFilterPath::kWindow)
      std::fprintf(stderr, "hearth: sampler filtered rows use the %s path (HEARTH_SAMPLER)\n",
                   SamplerFilterPathName(*p));
    return *p;
  }();
  return path;
}

}  // namespace hearth
