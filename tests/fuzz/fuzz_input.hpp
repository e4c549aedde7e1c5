#pragma once
// Reads typed values from a libFuzzer input; past the end everything reads as zero, so every input is valid.

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace platypos::fuzz {

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  template <class T>
  T take() {
    T v{};
    std::uint8_t buf[sizeof(T)] = {};
    for (std::size_t i = 0; i < sizeof(T) && pos_ < size_; ++i) buf[i] = data_[pos_++];
    std::memcpy(&v, buf, sizeof(T));
    return v;
  }
  std::uint8_t byte() { return take<std::uint8_t>(); }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// Stops the fuzzer with a readable reason (libFuzzer reports the abort and saves the input).
[[noreturn]] inline void fail(const char* what) {
  __builtin_printf("fuzz check failed: %s\n", what);
  __builtin_trap();
}
#define PLATYPOS_FUZZ_CHECK(cond)               \
  do {                                          \
    if (!(cond)) ::platypos::fuzz::fail(#cond); \
  } while (0)

}  // namespace platypos::fuzz
