#pragma once
// What every output of platypos-trace shares: the selection (CPUs, time window), time formatting, and argument
// values as text, with code addresses named from the ELF.

#include <elf_symbols.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "timeline.hpp"
#include "trace_reader.hpp"

namespace platypos::tracetool {

struct OutputOptions {
  std::vector<std::uint32_t> cpus;  // empty: all
  // Window, in nanoseconds since the trace's start (its first clock sync).
  std::int64_t from_ns = std::numeric_limits<std::int64_t>::min();
  std::int64_t to_ns = std::numeric_limits<std::int64_t>::max();
  std::string source;             // the input file's name, for titles
  std::string png = "trace.png";  // gnuplot: the picture the script writes
  bool flows = true;              // gnuplot: draw flow arrows
};

class Output {
 public:
  Output(const Trace& trace, const Timeline& timeline, const OutputOptions& options, const tools::ElfSymbols* symbols);

  const Trace& trace() const { return t_; }
  const Timeline& timeline() const { return tl_; }
  const OutputOptions& options() const { return opt_; }

  bool cpu_selected(std::uint32_t cpu) const;
  // Relative nanoseconds (since the trace start) of an absolute time.
  std::int64_t rel(std::int64_t ns) const { return ns - base_; }
  bool in_window(std::int64_t ns) const { return rel(ns) >= opt_.from_ns && rel(ns) <= opt_.to_ns; }
  bool overlaps_window(std::int64_t begin, std::int64_t end) const {
    return rel(end) >= opt_.from_ns && rel(begin) <= opt_.to_ns;
  }

  // "0.012345678" (seconds, relative); "12.345678" (microseconds, relative, for JSON).
  std::string seconds(std::int64_t ns) const;
  std::string micros(std::int64_t ns) const;

  // An argument as text: decimal, signed, 0x-hex, "0x... <symbol+0x12>", "worker#5 (web)", a quoted string.
  std::string arg_text(const Record& r, std::size_t i) const;
  // "name+0xoff", or "" when unknown (or no symbols).
  std::string symbol(std::uint64_t addr) const;

 private:
  const Trace& t_;
  const Timeline& tl_;
  const OutputOptions& opt_;
  const tools::ElfSymbols* symbols_;
  std::int64_t base_;
};

// A duration for people: "850 ns", "12.3 us", "4.56 ms".
std::string human_duration(std::int64_t ns);
// A duration in microseconds with nanosecond decimals: "12.345".
std::string duration_micros(std::int64_t ns);
std::string json_escape(std::string_view s);
std::string hex(std::uint64_t v);

}  // namespace platypos::tracetool
