// Status and Result<T>: the error channel for everything that can fail on input (files,
// requests, unsupported shapes). Invariant violations use check.h instead.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace hearth {

enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument,    // the caller's input is wrong (bad request field, malformed file)
  kNotFound,           // a named thing (file, tensor, key) does not exist
  kOutOfRange,         // an offset, index or size falls outside its bounds
  kDataLoss,           // a file is truncated or corrupt
  kUnimplemented,      // a valid but unsupported case (dtype, head_dim, architecture)
  kResourceExhausted,  // out of memory, queue full
  kFailedPrecondition, // the system is not in a state to do this (draining, not loaded)
  kUnavailable,        // try again later
  kCancelled,
  kDeadlineExceeded,
  kUnauthenticated,
  kInternal,           // a bug or a failing library/driver call
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgumentError(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status OutOfRangeError(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status DataLossError(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status UnimplementedError(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status ResourceExhaustedError(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status FailedPreconditionError(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Result<T>: a value or a non-OK Status.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}         // NOLINT: must not be OK
  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(v_);
  }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace hearth

#define HEARTH_STATUS_CONCAT_INNER(a, b) a##b
#define HEARTH_STATUS_CONCAT(a, b) HEARTH_STATUS_CONCAT_INNER(a, b)

// Returns the status from the enclosing function if `expr` (a Status) is not OK.
#define HEARTH_RETURN_IF_ERROR(expr)                   \
  do {                                                 \
    ::hearth::Status hearth_status_ = (expr);          \
    if (!hearth_status_.ok()) return hearth_status_;   \
  } while (0)

// `lhs = value of expr` (a Result<T>), or returns its status.
#define HEARTH_ASSIGN_OR_RETURN(lhs, expr) \
  HEARTH_ASSIGN_OR_RETURN_IMPL(HEARTH_STATUS_CONCAT(hearth_result_, __LINE__), lhs, expr)
#define HEARTH_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
