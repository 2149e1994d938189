// The host-side choices of programmatic dependent launch (kernels/core/pdl.h), without a GPU.
#include "kernels/core/pdl.h"

#include <gtest/gtest.h>

namespace hearth::cuda {
namespace {

TEST(Pdl, OnUnlessTheEnvironmentTurnsItOff) {
  EXPECT_TRUE(PdlRequested(nullptr));
  EXPECT_TRUE(PdlRequested(""));
  EXPECT_TRUE(PdlRequested("1"));
  EXPECT_TRUE(PdlRequested("on"));
  EXPECT_FALSE(PdlRequested("0"));
  EXPECT_FALSE(PdlRequested("off"));
  EXPECT_FALSE(PdlRequested("false"));
}

TEST(Pdl, OnlyFromHopperOn) {
  EXPECT_FALSE(PdlSupported(7));
  EXPECT_FALSE(PdlSupported(8));
  EXPECT_TRUE(PdlSupported(9));
  EXPECT_TRUE(PdlSupported(10));
  EXPECT_TRUE(PdlSupported(12));
}

}  // namespace
}  // namespace hearth::cuda
