#include "text_output.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>

namespace platypos::tracetool {
namespace {

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string record_line(const Output& o, std::size_t idx) {
  const Trace& t = o.trace();
  const Timeline& tl = o.timeline();
  const Record& r = t.records[idx];
  const EventDesc& e = t.event(r.event);
  std::string line = "[" + o.seconds(tl.ns[idx]) + "] " + pad(tl.task_label(r.task), 18) + " ";
  line.append(2 * std::size_t{tl.indent[idx]}, ' ');
  line += e.name;
  for (std::size_t i = 0; i < e.args.size(); ++i) {
    const bool flow = e.args[i].type == ArgType::flow_begin || e.args[i].type == ArgType::flow_end;
    if (flow && t.arg(r, i).bits == 0) continue;  // no flow
    line += " " + e.args[i].name + "=" + o.arg_text(r, i);
    if (e.args[i].type == ArgType::flow_begin) {
      auto f = tl.flow_by_from.find(idx);
      if (f != tl.flow_by_from.end()) {
        const std::size_t to = tl.flows[f->second].to_record;
        line += " -> cpu " + std::to_string(t.records[to].cpu) + " +" + human_duration(tl.ns[to] - tl.ns[idx]);
      }
    } else if (e.args[i].type == ArgType::flow_end) {
      auto f = tl.flow_by_to.find(idx);
      if (f != tl.flow_by_to.end()) {
        const std::size_t from = tl.flows[f->second].from_record;
        line += " <- cpu " + std::to_string(t.records[from].cpu) + " " + human_duration(tl.ns[idx] - tl.ns[from]) +
                " earlier";
      }
    }
  }
  if (e.kind == EventKind::end) {
    auto d = tl.span_duration.find(idx);
    line += d != tl.span_duration.end() ? " (" + human_duration(d->second) + ")" : " (no matching begin)";
  }
  return line;
}

}  // namespace

void write_summary(std::ostream& out, const Output& o) {
  const Trace& t = o.trace();
  const Timeline& tl = o.timeline();
  char buf[256];
  out << "trace: " << o.options().source << "\n";
  out << "producer: " << t.header.producer << "\n";
  if (!t.header.image.empty()) out << "image: " << t.header.image << "\n";
  out << "format: version " << t.header.version << ", " << t.header.cpu_count << " cpus, clock ";
  if (t.header.ticks_hz == 1'000'000'000) {
    out << "in nanoseconds";
  } else if (t.header.ticks_hz != 0) {
    std::snprintf(buf, sizeof buf, "%.3f MHz", static_cast<double>(t.header.ticks_hz) / 1e6);
    out << buf;
  } else {
    out << "rate from the clock syncs";
  }
  out << ", " << t.syncs.size() << " clock syncs\n";
  out << "time: " << o.seconds(tl.first_ns) << " .. " << o.seconds(tl.last_ns) << " s ("
      << human_duration(tl.last_ns - tl.first_ns) << ")\n";
  out << "records: " << t.records.size() << ", dropped: " << t.dropped();
  if (t.end) {
    out << "; complete (end packet: " << t.end->records << " records, " << t.end->dropped << " dropped, "
        << t.end->uncommitted << " never committed)\n";
  } else {
    out << "; TRUNCATED (no end packet: the writer stopped early)\n";
  }
  if (t.skipped_prefix != 0) out << "skipped " << t.skipped_prefix << " bytes before the trace header\n";
  if (t.skipped_packets != 0) out << "skipped " << t.skipped_packets << " packets of unknown types\n";
  out << "runs: " << tl.runs.size() << ", spans: " << tl.spans.size() << ", flows: " << tl.flows.size() << " ("
      << tl.unmatched_flows << " without an end), ends without a begin: " << tl.unmatched_ends
      << ", spans open at the end: " << tl.open_at_end << "\n";

  std::vector<std::uint64_t> counts(t.events.size(), 0);
  for (const Record& r : t.records) ++counts[r.event];
  out << "\nevents (catalog of the file: "
      << std::count_if(t.events.begin(), t.events.end(), [](const EventDesc& e) { return e.known; }) << " types)\n";
  for (const EventDesc& e : t.events) {
    if (!e.known) continue;
    std::snprintf(buf, sizeof buf, "  %-22s %-7s %-7s %-12s %10" PRIu64 "\n", e.name.c_str(), e.category.c_str(),
                  level_name(e.level), kind_name(e.kind), counts[e.id]);
    out << buf;
  }

  out << "\ncpu   records  dropped  busy%   runs\n";
  const std::int64_t total = tl.last_ns - tl.first_ns;
  for (std::uint32_t c = 0; c < t.header.cpu_count; ++c) {
    std::uint64_t dropped = 0;
    for (const DropReport& d : t.drops)
      if (d.cpu == c) dropped += d.count;
    std::int64_t busy = 0;
    std::uint64_t runs = 0;
    for (const Run& r : tl.runs) {
      if (r.cpu != c || r.task == 0) continue;
      busy += r.end - r.begin;
      ++runs;
    }
    std::snprintf(buf, sizeof buf, "%-4u %9zu %8" PRIu64 " %6.1f %6" PRIu64 "\n", c, tl.cpu_records[c].size(), dropped,
                  total > 0 ? 100.0 * static_cast<double>(busy) / static_cast<double>(total) : 0.0, runs);
    out << buf;
  }

  std::map<std::uint32_t, std::pair<std::int64_t, std::uint64_t>> per_task;
  for (const Run& r : tl.runs) {
    if (r.task == 0) continue;
    auto& [time, runs] = per_task[r.task];
    time += r.end - r.begin;
    ++runs;
  }
  std::vector<std::pair<std::uint32_t, std::pair<std::int64_t, std::uint64_t>>> tasks(per_task.begin(), per_task.end());
  std::stable_sort(tasks.begin(), tasks.end(),
                   [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  out << "\ntasks by cpu time (top 20 of " << tasks.size() << ")\n";
  for (std::size_t i = 0; i < tasks.size() && i < 20; ++i) {
    std::string entry;
    auto info = tl.tasks.find(tasks[i].first);
    if (info != tl.tasks.end() && info->second.has_entry) {
      const std::string s = o.symbol(info->second.entry);
      if (!s.empty()) entry = "  " + s;
    }
    std::snprintf(buf, sizeof buf, "  %-26s %12s in %6" PRIu64 " runs", tl.task_label(tasks[i].first).c_str(),
                  human_duration(tasks[i].second.first).c_str(), tasks[i].second.second);
    out << buf << entry << "\n";
  }
}

void write_text(std::ostream& out, const Output& o) {
  const Trace& t = o.trace();
  const Timeline& tl = o.timeline();
  write_summary(out, o);
  for (std::uint32_t c = 0; c < t.header.cpu_count; ++c) {
    if (!o.cpu_selected(c)) continue;
    const std::vector<std::size_t>& list = tl.cpu_records[c];
    std::uint64_t dropped = 0;
    std::vector<const DropReport*> drops;
    for (const DropReport& d : t.drops) {
      if (d.cpu != c) continue;
      dropped += d.count;
      drops.push_back(&d);
    }
    out << "\n=== cpu " << c << ": " << list.size() << " records, " << dropped << " dropped ===\n";
    std::size_t next_drop = 0;
    for (std::size_t idx : list) {
      const std::int64_t at = tl.ns[idx];
      // A drop is reported where the drain worker noticed it: before the first record stamped after that.
      while (next_drop < drops.size() && t.ns(drops[next_drop]->ticks) <= at) {
        const DropReport& d = *drops[next_drop++];
        if (o.in_window(t.ns(d.ticks))) {
          out << "[" << o.seconds(t.ns(d.ticks)) << "] *** " << d.count << " records lost: the ring was full ("
              << d.total << " on this cpu so far)\n";
        }
      }
      if (!o.in_window(at)) continue;
      out << record_line(o, idx) << "\n";
    }
    for (; next_drop < drops.size(); ++next_drop) {
      const DropReport& d = *drops[next_drop];
      if (!o.in_window(t.ns(d.ticks))) continue;
      out << "[" << o.seconds(t.ns(d.ticks)) << "] *** " << d.count << " records lost: the ring was full (" << d.total
          << " on this cpu so far)\n";
    }
  }
}

}  // namespace platypos::tracetool
