#pragma once
// ElfSymbols: function names for code addresses, read from an ELF file's symbol table (.symtab, falling back to
// .dynsym). Host-side only. Used by the hosted backend's panic backtraces (static functions included, which dladdr
// cannot name), by the QEMU runner to symbolize kernel backtraces, and by the trace decoder.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace platypos::tools {

class ElfSymbols {
 public:
  struct Symbol {
    std::uint64_t addr;
    std::uint64_t size;
    std::string name;  // demangled
  };

  // Reads the symbols of the ELF64 file at `path`. On failure returns nullopt and says why in *error.
  static std::optional<ElfSymbols> load(const std::string& path, std::string* error);

  // The function containing `addr` (an address as the file's symbols see it: unrelocated for a PIE), or nullptr.
  // Symbols of size 0 match only their exact address... or, when nothing sized contains addr, the nearest one below
  // it within 64 KiB (assembly labels often have no size).
  const Symbol* lookup(std::uint64_t addr) const;

  // "name+0xoff" for addr, or "" when unknown.
  std::string describe(std::uint64_t addr) const;

  const std::vector<Symbol>& symbols() const { return symbols_; }

 private:
  std::vector<Symbol> symbols_;  // sorted by addr
};

// "_ZN8platypos5panicEv" -> "platypos::panic()"; returns the input when it is not a mangled C++ name.
std::string demangle(const char* name);

}  // namespace platypos::tools
