#include "elf_symbols.hpp"

#include <cxxabi.h>
#include <elf.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

namespace platypos::tools {

std::string demangle(const char* name) {
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || out == nullptr) return name;
  std::string s(out);
  std::free(out);
  return s;
}

std::optional<ElfSymbols> ElfSymbols::load(const std::string& path, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<ElfSymbols> {
    if (error != nullptr) *error = path + ": " + why;
    return std::nullopt;
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot open");
  std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < sizeof(Elf64_Ehdr)) return fail("too small to be an ELF file");
  Elf64_Ehdr eh;
  std::memcpy(&eh, data.data(), sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return fail("not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) return fail("not ELF64");
  if (eh.e_shoff == 0 || eh.e_shentsize != sizeof(Elf64_Shdr) ||
      eh.e_shoff + std::uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr) > data.size()) {
    return fail("no usable section headers");
  }
  std::vector<Elf64_Shdr> sh(eh.e_shnum);
  std::memcpy(sh.data(), data.data() + eh.e_shoff, sh.size() * sizeof(Elf64_Shdr));

  auto read_table = [&](std::uint32_t type) -> std::vector<Symbol> {
    std::vector<Symbol> out;
    for (const Elf64_Shdr& s : sh) {
      if (s.sh_type != type || s.sh_link >= sh.size() || s.sh_entsize != sizeof(Elf64_Sym)) continue;
      const Elf64_Shdr& strtab = sh[s.sh_link];
      if (s.sh_offset + s.sh_size > data.size() || strtab.sh_offset + strtab.sh_size > data.size()) continue;
      const std::size_t n = s.sh_size / sizeof(Elf64_Sym);
      for (std::size_t i = 0; i < n; ++i) {
        Elf64_Sym sym;
        std::memcpy(&sym, data.data() + s.sh_offset + i * sizeof(Elf64_Sym), sizeof sym);
        const int kind = ELF64_ST_TYPE(sym.st_info);
        if ((kind != STT_FUNC && kind != STT_NOTYPE) || sym.st_shndx == SHN_UNDEF || sym.st_value == 0) continue;
        // Absolute and common symbols (SHN_ABS, SHN_COMMON: linker-script constants) name no code in a section.
        if (sym.st_shndx >= sh.size()) continue;
        if (sym.st_name >= strtab.sh_size) continue;
        const char* name = data.data() + strtab.sh_offset + sym.st_name;
        const std::size_t max_len = strtab.sh_size - sym.st_name;
        if (strnlen(name, max_len) == max_len || name[0] == '\0' || name[0] == '.' || name[0] == '$') continue;
        if (kind == STT_NOTYPE && !(sh[sym.st_shndx].sh_flags & SHF_EXECINSTR)) continue;
        out.push_back({sym.st_value, sym.st_size, demangle(name)});
      }
    }
    return out;
  };
  ElfSymbols result;
  result.symbols_ = read_table(SHT_SYMTAB);
  if (result.symbols_.empty()) result.symbols_ = read_table(SHT_DYNSYM);
  if (result.symbols_.empty()) return fail("no function symbols (stripped?)");
  std::sort(result.symbols_.begin(), result.symbols_.end(),
            [](const Symbol& a, const Symbol& b) { return a.addr != b.addr ? a.addr < b.addr : a.size > b.size; });
  return result;
}

const ElfSymbols::Symbol* ElfSymbols::lookup(std::uint64_t addr) const {
  auto it = std::upper_bound(symbols_.begin(), symbols_.end(), addr,
                             [](std::uint64_t a, const Symbol& s) { return a < s.addr; });
  if (it == symbols_.begin()) return nullptr;
  // Walk back over the symbols starting at or below addr: prefer one that contains it.
  const Symbol* nearest = &*std::prev(it);
  for (auto j = it; j != symbols_.begin();) {
    --j;
    if (addr < j->addr + std::max<std::uint64_t>(j->size, 1)) return &*j;
    if (addr - j->addr > (1u << 20)) break;  // functions are not that large
  }
  if (nearest->size == 0 && addr - nearest->addr < 64 * 1024) return nearest;
  return nullptr;
}

std::string ElfSymbols::describe(std::uint64_t addr) const {
  const Symbol* s = lookup(addr);
  if (s == nullptr) return "";
  char off[32];
  std::snprintf(off, sizeof off, "+%#llx", static_cast<unsigned long long>(addr - s->addr));
  return s->name + off;
}

}  // namespace platypos::tools
