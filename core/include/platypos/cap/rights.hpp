#pragma once
// Rights: what a handle lets its holder do with the object behind it. A bitmask that only ever shrinks: duplicate and
// replace can drop rights, nothing can add one.

#include <platypos/abi/handles.hpp>
#include <platypos/base/types.hpp>

namespace platypos::cap {

// The bits are the ABI's (abi/handles.hpp): one definition.
enum class Rights : u32 {
  none = 0,
  read = abi::rights::read,
  write = abi::rights::write,
  transfer = abi::rights::transfer,
  duplicate = abi::rights::duplicate,
  wait = abi::rights::wait,
  signal = abi::rights::signal,
  manage = abi::rights::manage,
  listen = abi::rights::listen,
  connect = abi::rights::connect,
  all = abi::rights::all,
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
