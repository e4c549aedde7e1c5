#pragma once
// Expected<T>: what an operation gives back to a program: a value, or the abi::Status the kernel reported.

#include <platypos/abi/status.hpp>

#include <utility>

namespace platypos::user {

using abi::Status;

template <class T>
class [[nodiscard]] Expected {
 public:
  Expected() = default;                            // ok, with a default T (a slot to assign to later)
  Expected(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor): return a value directly
  Expected(Status s) : status_(s) {}               // NOLINT(google-explicit-constructor): return an error directly

  bool ok() const { return status_ == Status::ok; }
  explicit operator bool() const { return ok(); }
  Status status() const { return status_; }
  T& operator*() { return value_; }
  const T& operator*() const { return value_; }
  T* operator->() { return &value_; }
  const T* operator->() const { return &value_; }
  T value_or(T other) const { return ok() ? value_ : other; }

 private:
  T value_{};
  Status status_ = Status::ok;
};

template <>
class [[nodiscard]] Expected<void> {
 public:
  Expected() = default;
  Expected(Status s) : status_(s) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return status_ == Status::ok; }
  explicit operator bool() const { return ok(); }
  Status status() const { return status_; }

 private:
  Status status_ = Status::ok;
};

}  // namespace platypos::user
