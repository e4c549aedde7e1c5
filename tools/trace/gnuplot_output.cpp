#include "gnuplot_output.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>

namespace platypos::tracetool {
namespace {

constexpr const char* kPalette[] = {"#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                                    "#17becf", "#bcbd22", "#7f7f7f", "#aec7e8", "#98df8a", "#ffbb78"};
constexpr std::size_t kGroups = sizeof kPalette / sizeof kPalette[0];

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

void write_gnuplot(std::ostream& out, const Output& o) {
  const Trace& t = o.trace();
  const Timeline& tl = o.timeline();
  std::vector<std::uint32_t> rows;
  std::map<std::uint32_t, std::size_t> row_of;
  for (std::uint32_t c = 0; c < t.header.cpu_count; ++c) {
    if (!o.cpu_selected(c)) continue;
    row_of[c] = rows.size();
    rows.push_back(c);
  }
  // The window actually drawn: the option's, clipped to the trace.
  const std::int64_t lo = std::max(o.options().from_ns, o.rel(tl.first_ns));
  const std::int64_t hi = std::min(o.options().to_ns, o.rel(tl.last_ns));
  auto ms = [&](std::int64_t abs_ns) {
    std::int64_t r = o.rel(abs_ns);
    r = std::clamp(r, lo, hi);
    return static_cast<double>(r) / 1e6;
  };
  // Boxes are drawn at least about a pixel wide (1/1600 of the window), or sub-microsecond runs would vanish.
  const double min_half = static_cast<double>(hi - lo) / 1e6 / 3200;
  auto half = [&](double a, double b) { return std::max((b - a) / 2, min_half); };

  // Groups: task name (and process), the busiest first; the rest share the last colour.
  std::map<std::string, std::int64_t> busy;
  auto group_of = [&](std::uint32_t task) {
    std::string g = tl.task_name(task);
    auto info = tl.tasks.find(task);
    if (info != tl.tasks.end()) {
      auto p = tl.processes.find(info->second.process);
      if (p != tl.processes.end()) g += " (" + p->second + ")";
    }
    return g;
  };
  std::vector<const Run*> runs;
  for (const Run& r : tl.runs) {
    if (r.task == 0 || !o.cpu_selected(r.cpu) || !o.overlaps_window(r.begin, r.end)) continue;
    runs.push_back(&r);
    busy[group_of(r.task)] += std::min(o.rel(r.end), hi) - std::max(o.rel(r.begin), lo);
  }
  std::vector<std::pair<std::string, std::int64_t>> groups(busy.begin(), busy.end());
  std::stable_sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::map<std::string, std::size_t> group_index;
  for (std::size_t i = 0; i < groups.size(); ++i) group_index[groups[i].first] = std::min(i, kGroups - 1);
  const std::size_t shown = std::min(groups.size(), kGroups);

  char buf[256];
  out << "# A per-CPU timeline rendered by platypos-trace from " << o.options().source << ".\n";
  out << "# Run: gnuplot THIS_FILE   (writes " << o.options().png << ")\n";
  std::snprintf(buf, sizeof buf, "set terminal pngcairo size 1600,%zu font \"DejaVu Sans,11\" background \"white\"\n",
                std::size_t{140} + 46 * rows.size());
  out << buf;
  out << "set output " << quoted(o.options().png) << "\n";
  out << "set title " << quoted(t.header.producer) << " noenhanced\n";
  out << "set xlabel \"time since the trace started (ms)\"\n";
  std::snprintf(buf, sizeof buf, "set xrange [%.6f:%.6f]\n", static_cast<double>(lo) / 1e6,
                static_cast<double>(hi) / 1e6);
  out << buf;
  std::snprintf(buf, sizeof buf, "set yrange [%zu.5:-0.5]\n", rows.empty() ? 0 : rows.size() - 1);
  out << buf;
  out << "set ytics (";
  for (std::size_t i = 0; i < rows.size(); ++i) out << (i ? ", " : "") << "\"cpu " << rows[i] << "\" " << i;
  out << ")\nset grid xtics\nset style fill solid 1.0 noborder\nset key outside right top noenhanced\n";
  out << "set border 3\nset tics nomirror\n";

  // Runs, one data block per group: x centre, row, half width, half height.
  for (std::size_t g = 0; g < shown; ++g) {
    out << "$group" << g << " << EOD\n";
    for (const Run* r : runs) {
      if (group_index[group_of(r->task)] != g) continue;
      const double a = ms(r->begin), b = ms(r->end);
      std::snprintf(buf, sizeof buf, "%.6f %zu %.6f 0.34\n", (a + b) / 2, row_of[r->cpu], half(a, b));
      out << buf;
    }
    out << "EOD\n";
  }
  std::size_t span_count = 0;
  out << "$spans << EOD\n";
  for (const Span& s : tl.spans) {
    if (!o.cpu_selected(s.cpu) || !o.overlaps_window(s.begin, s.end)) continue;
    const double a = ms(s.begin), b = ms(s.end);
    std::snprintf(buf, sizeof buf, "%.6f %.3f %.6f 0.06\n", (a + b) / 2, static_cast<double>(row_of[s.cpu]) - 0.4,
                  half(a, b));
    out << buf;
    ++span_count;
  }
  out << "EOD\n";
  std::size_t flow_count = 0;
  out << "$flows << EOD\n";
  if (o.options().flows) {
    for (const Flow& f : tl.flows) {
      const Record& from = t.records[f.from_record];
      const Record& to = t.records[f.to_record];
      if (!o.cpu_selected(from.cpu) || !o.cpu_selected(to.cpu)) continue;
      if (!o.in_window(tl.ns[f.from_record]) || !o.in_window(tl.ns[f.to_record])) continue;
      const double x = ms(tl.ns[f.from_record]);
      const double y = static_cast<double>(row_of[from.cpu]);
      std::snprintf(buf, sizeof buf, "%.6f %.3f %.6f %.3f\n", x, y, ms(tl.ns[f.to_record]) - x,
                    static_cast<double>(row_of[to.cpu]) - y);
      out << buf;
      ++flow_count;
    }
  }
  out << "EOD\n";

  out << "plot ";
  bool first = true;
  auto sep = [&] {
    if (!first) out << ", \\\n     ";
    first = false;
  };
  for (std::size_t g = 0; g < shown; ++g) {
    sep();
    const std::string title = g + 1 == kGroups && groups.size() > kGroups ? "other tasks" : groups[g].first;
    out << "$group" << g << " using 1:2:3:4 with boxxyerror lc rgb \"" << kPalette[g] << "\" title " << quoted(title);
  }
  if (span_count > 0) {
    sep();
    out << "$spans using 1:2:3:4 with boxxyerror lc rgb \"#d62728\" title \"interrupts, spans\"";
  }
  if (flow_count > 0) {
    sep();
    out << "$flows using 1:2:3:4 with vectors head size screen 0.006,20 filled lc rgb \"#303030\" lw 0.7 "
           "title \"wake-up -> run\"";
  }
  if (first) out << "NaN notitle";
  out << "\n";
}

}  // namespace platypos::tracetool
