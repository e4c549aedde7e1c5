#include "output.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace platypos::tracetool {

Output::Output(const Trace& trace, const Timeline& timeline, const OutputOptions& options,
               const tools::ElfSymbols* symbols)
    : t_(trace),
      tl_(timeline),
      opt_(options),
      symbols_(symbols),
      base_(static_cast<std::int64_t>(trace.header.start.ns)) {}

bool Output::cpu_selected(std::uint32_t cpu) const {
  return opt_.cpus.empty() || std::find(opt_.cpus.begin(), opt_.cpus.end(), cpu) != opt_.cpus.end();
}

std::string Output::seconds(std::int64_t ns) const {
  const std::int64_t r = rel(ns);
  const std::uint64_t a = static_cast<std::uint64_t>(r < 0 ? -r : r);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%" PRIu64 ".%09" PRIu64, r < 0 ? "-" : "", a / 1'000'000'000, a % 1'000'000'000);
  return buf;
}

std::string Output::micros(std::int64_t ns) const { return duration_micros(rel(ns)); }

std::string Output::symbol(std::uint64_t addr) const {
  if (symbols_ == nullptr || addr == 0) return "";
  return symbols_->describe(addr);
}

std::string Output::arg_text(const Record& r, std::size_t i) const {
  const EventDesc& e = t_.event(r.event);
  const Value& v = t_.arg(r, i);
  switch (e.args[i].type) {
    case ArgType::u64: return std::to_string(v.bits);
    case ArgType::i64: return std::to_string(static_cast<std::int64_t>(v.bits));
    case ArgType::hex:
    case ArgType::flow_begin:
    case ArgType::flow_end: return hex(v.bits);
    case ArgType::addr: {
      const std::string s = symbol(v.bits);
      return s.empty() ? hex(v.bits) : hex(v.bits) + " <" + s + ">";
    }
    case ArgType::task: return tl_.task_label(static_cast<std::uint32_t>(v.bits));
    case ArgType::str: return "\"" + std::string(t_.str(v)) + "\"";
  }
  return std::to_string(v.bits);
}

std::string human_duration(std::int64_t ns) {
  char buf[32];
  const double v = static_cast<double>(ns);
  if (ns < 0) {
    std::snprintf(buf, sizeof buf, "%" PRId64 " ns", ns);
  } else if (ns < 1000) {
    std::snprintf(buf, sizeof buf, "%" PRId64 " ns", ns);
  } else if (ns < 1'000'000) {
    std::snprintf(buf, sizeof buf, "%.3g us", v / 1e3);
  } else if (ns < 1'000'000'000) {
    std::snprintf(buf, sizeof buf, "%.3g ms", v / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.3f s", v / 1e9);
  }
  return buf;
}

std::string duration_micros(std::int64_t ns) {
  const std::uint64_t a = static_cast<std::uint64_t>(ns < 0 ? -ns : ns);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%" PRIu64 ".%03" PRIu64, ns < 0 ? "-" : "", a / 1000, a % 1000);
  return buf;
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c >= 0x7f) {
      // Control bytes and anything outside ASCII (strings in a trace are raw bytes, maybe cut mid-character).
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

}  // namespace platypos::tracetool
