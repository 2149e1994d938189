#include <cstdio>
#include <cstdlib>
#include <string>

#include "kernels/sampling/sampler.h"

namespace hearth {

Result<SamplerFilterPath> ParseSamplerFilterPath(std::string_view name) {
  if (name.empty() || name == "oneread") return SamplerFilterPath::kOneRead;
  if (name == "window") return SamplerFilterPath::kWindow;
  if (name == "radix") return SamplerFilterPath::kRadix;
  return InvalidArgumentError("HEARTH_SAMPLER=" + std::string(name) +
                              ": expected \"oneread\" (the default), \"window\" or \"radix\"");
}

const char* SamplerFilterPathName(SamplerFilterPath path) {
  switch (path) {
    case SamplerFilterPath::kOneRead:
      return "oneread";
    case SamplerFilterPath::kWindow:
      return "window";
    case SamplerFilterPath::kRadix:
      return "radix";
  }
  return "?";
}

const Result<SamplerFilterPath>& SamplerFilterPathFromEnv() {
  static const Result<SamplerFilterPath> path = []() -> Result<SamplerFilterPath> {
    const char* v = std::getenv("HEARTH_SAMPLER");
    Result<SamplerFilterPath> p = ParseSamplerFilterPath(v == nullptr ? "" : v);
    if (p.ok() && *p != SamplerFilterPath::kOneRead) {
      std::fprintf(stderr, "hearth: sampler filtered rows use the %s path (HEARTH_SAMPLER)\n",
                   SamplerFilterPathName(*p));
    }
    return p;
  }();
  return path;
}

}  // namespace hearth
