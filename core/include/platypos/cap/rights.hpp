#pragma once
// Rights: what a handle lets its holder do with the object behind it. A bitmask that only ever shrinks: duplicate and
// replace can drop rights, nothing can add one.

#include <platypos/base/types.hpp>

namespace platypos::cap {

enum class Rights : u32 {
  none = 0,
  read = 1u << 0,       // read messages, bytes, log records
  write = 1u << 1,      // write messages, bytes, log records
  transfer = 1u << 2,   // move the handle to another process through a channel
  duplicate = 1u << 3,  // make another handle to the same object (with the same or fewer rights)
  wait = 1u << 4,       // wait on the object's signals
  signal = 1u << 5,     // set or clear the object's user signals
  map = 1u << 6,        // map a memory object into an address space
  manage = 1u << 7,     // revoke the object, exit a process
  all = 0xff,
};

constexpr Rights operator|(Rights a, Rights b) {
  return static_cast<Rights>(static_cast<u32>(a) | static_cast<u32>(b));
}
constexpr Rights operator&(Rights a, Rights b) {
  return static_cast<Rights>(static_cast<u32>(a) & static_cast<u32>(b));
}
constexpr Rights operator~(Rights a) {
  return static_cast<Rights>(~static_cast<u32>(a) & static_cast<u32>(Rights::all));
}
// True if `have` includes every right in `need`.
constexpr bool has_rights(Rights have, Rights need) { return (have & need) == need; }
constexpr bool valid_rights(Rights r) { return (static_cast<u32>(r) & ~static_cast<u32>(Rights::all)) == 0; }

}  // namespace platypos::cap
