#pragma once
// Helpers shared by the unit tests: readable GoogleTest output for core types.

#include <platypos/base/error.hpp>
#include <platypos/base/result.hpp>

#include <ostream>

namespace platypos {

inline void PrintTo(Error e, std::ostream* os) { *os << "Error::" << error_name(e); }

template <class T>
void PrintTo(const Result<T>& r, std::ostream* os) {
  if (r.has_value()) {
    *os << "Result(value)";
  } else {
    *os << "Result(Error::" << error_name(r.error()) << ")";
  }
}

}  // namespace platypos
