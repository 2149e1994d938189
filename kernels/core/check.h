// Invariant checks: a failed check is a bug in Hearth, not bad input. It prints the expression,
// both operands and file:line, then aborts. Input errors go through Status (status.h).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

namespace hearth::internal {

[[noreturn]] inline void CheckFailed(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what.c_str());
  std::fflush(stderr);
  std::abort();
}

template <class A, class B>
std::string CheckOpMessage(const char* expr, const A& a, const B& b) {
  std::ostringstream os;
  os << expr << " (" << a << " vs " << b << ")";
  return os.str();
}

}  // namespace hearth::internal

#define HEARTH_CHECK(cond)                                                   \
  do {                                                                       \
    if (!(cond)) ::hearth::internal::CheckFailed(__FILE__, __LINE__, #cond); \
  } while (0)

#define HEARTH_CHECK_OP(a, b, op)                                                   \
  do {                                                                              \
    const auto& hearth_a_ = (a);                                                    \
    const auto& hearth_b_ = (b);                                                    \
    if (!(hearth_a_ op hearth_b_))                                                  \
      ::hearth::internal::CheckFailed(                                              \
          __FILE__, __LINE__,                                                       \
          ::hearth::internal::CheckOpMessage(#a " " #op " " #b, hearth_a_, hearth_b_)); \
  } while (0)

#define HEARTH_CHECK_EQ(a, b) HEARTH_CHECK_OP(a, b, ==)
#define HEARTH_CHECK_NE(a, b) HEARTH_CHECK_OP(a, b, !=)
#define HEARTH_CHECK_LT(a, b) HEARTH_CHECK_OP(a, b, <)
#define HEARTH_CHECK_LE(a, b) HEARTH_CHECK_OP(a, b, <=)
#define HEARTH_CHECK_GT(a, b) HEARTH_CHECK_OP(a, b, >)
#define HEARTH_CHECK_GE(a, b) HEARTH_CHECK_OP(a, b, >=)
