#pragma once
// TraceSink: where the drain worker's bytes go (a file through liburing in hosted mode, the COM2 UART on bare
// metal, memory in tests). A non-owning, type-erased reference (two function pointers), like PageSource:
//
//   struct MySink {
//     bool write(const u8* data, usize n);   // take the bytes (may buffer them); false on an I/O error
//     bool flush(bool wait);                 // push out what is buffered; with wait, until it is written
//   };
//   TraceSink sink(my_sink);
//
// A sink that failed keeps failing; the drainer counts what it could not write and goes on draining, so the rings
// never stall on a broken device.

#include <platypos/base/types.hpp>

#include <concepts>
#include <type_traits>

namespace platypos::trace {

class TraceSink {
 public:
  TraceSink() = default;
  template <class T>
  requires(!std::is_same_v<std::remove_cv_t<T>, TraceSink>) && requires(T& t, const u8* d, usize n, bool w) {
    { t.write(d, n) } -> std::same_as<bool>;
    { t.flush(w) } -> std::same_as<bool>;
  }
  explicit TraceSink(T& impl)
      : ctx_(&impl),
        write_([](void* c, const u8* d, usize n) { return static_cast<T*>(c)->write(d, n); }),
        flush_([](void* c, bool w) { return static_cast<T*>(c)->flush(w); }) {}

  bool write(const u8* data, usize n) const { return write_(ctx_, data, n); }
  bool flush(bool wait) const { return flush_(ctx_, wait); }
  bool valid() const { return ctx_ != nullptr; }

 private:
  void* ctx_ = nullptr;
  bool (*write_)(void*, const u8*, usize) = nullptr;
  bool (*flush_)(void*, bool) = nullptr;
};

}  // namespace platypos::trace
