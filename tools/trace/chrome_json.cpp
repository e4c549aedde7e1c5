#include "chrome_json.hpp"

#include <algorithm>
#include <limits>
#include <tuple>

namespace platypos::tracetool {
namespace {

constexpr int kPid = 1;

struct Item {
  std::int64_t ts;
  int rank;  // at equal times: metadata, flow ends, slices (outer first), then instants and flow starts
  std::int64_t neg_dur;
  std::uint32_t depth;
  std::string json;
};

class Writer {
 public:
  explicit Writer(const Output& o) : o_(o), t_(o.trace()), tl_(o.timeline()) {}

  void run(std::ostream& out) {
    metadata();
    runs();
    spans();
    instants();
    flows();
    drops();
    std::stable_sort(items_.begin(), items_.end(), [](const Item& a, const Item& b) {
      return std::tie(a.ts, a.rank, a.neg_dur, a.depth) < std::tie(b.ts, b.rank, b.neg_dur, b.depth);
    });
    out << "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"producer\":\"" << json_escape(t_.header.producer)
        << "\",\"image\":\"" << json_escape(t_.header.image) << "\",\"records\":" << t_.records.size()
        << ",\"dropped\":" << t_.dropped() << ",\"complete\":" << (t_.end ? "true" : "false")
        << "},\n\"traceEvents\":[\n";
    for (std::size_t i = 0; i < items_.size(); ++i) out << items_[i].json << (i + 1 < items_.size() ? ",\n" : "\n");
    out << "]}\n";
  }

 private:
  std::string head(const char* ph, const std::string& name, const std::string& cat, std::uint32_t cpu,
                   std::int64_t ts) const {
    return std::string("{\"ph\":\"") + ph + "\",\"name\":\"" + json_escape(name) + "\",\"cat\":\"" + json_escape(cat) +
           "\",\"pid\":" + std::to_string(kPid) + ",\"tid\":" + std::to_string(cpu) + ",\"ts\":" + o_.micros(ts);
  }

  // The record's arguments as JSON members ("name":value,...), names prefixed with `prefix`.
  std::string args(std::size_t idx, const std::string& prefix) const {
    const Record& r = t_.records[idx];
    const EventDesc& e = t_.event(r.event);
    std::string s;
    for (std::size_t i = 0; i < e.args.size(); ++i) {
      if (!s.empty()) s += ",";
      s += "\"" + json_escape(prefix + e.args[i].name) + "\":";
      const Value& v = t_.arg(r, i);
      switch (e.args[i].type) {
        case ArgType::u64: s += std::to_string(v.bits); break;
        case ArgType::i64: s += std::to_string(static_cast<std::int64_t>(v.bits)); break;
        default: s += "\"" + json_escape(o_.arg_text(r, i)) + "\""; break;
      }
    }
    return s;
  }

  void add(std::int64_t ts, int rank, std::int64_t dur, std::uint32_t depth, std::string json) {
    items_.push_back(Item{ts, rank, -dur, depth, std::move(json)});
  }

  void metadata() {
    const std::string process = "PlatypOS: " + t_.header.producer;
    add(std::numeric_limits<std::int64_t>::min(), 0, 0, 0,
        "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1,\"tid\":0,\"args\":{\"name\":\"" + json_escape(process) +
            "\"}}");
    for (std::uint32_t c = 0; c < t_.header.cpu_count; ++c) {
      if (!o_.cpu_selected(c)) continue;
      add(std::numeric_limits<std::int64_t>::min(), 0, 0, c,
          "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":" + std::to_string(c) +
              ",\"args\":{\"name\":\"cpu " + std::to_string(c) + "\"}}");
      add(std::numeric_limits<std::int64_t>::min(), 0, 0, c,
          "{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":1,\"tid\":" + std::to_string(c) +
              ",\"args\":{\"sort_index\":" + std::to_string(c) + "}}");
    }
  }

  void runs() {
    for (const Run& r : tl_.runs) {
      if (r.task == 0 || !o_.cpu_selected(r.cpu) || !o_.overlaps_window(r.begin, r.end)) continue;
      std::string j = head("X", tl_.task_name(r.task), "task", r.cpu, r.begin) +
                      ",\"dur\":" + duration_micros(r.end - r.begin) + ",\"args\":{\"task\":\"" +
                      json_escape(tl_.task_label(r.task)) + "\",\"id\":" + std::to_string(r.task);
      if (r.from_trace_start) j += ",\"running_at_trace_start\":true";
      if (r.to_trace_end) j += ",\"running_at_trace_end\":true";
      add(r.begin, 1, r.end - r.begin, 0, j + "}}");
    }
  }

  void spans() {
    for (const Span& s : tl_.spans) {
      if (!o_.cpu_selected(s.cpu) || !o_.overlaps_window(s.begin, s.end)) continue;
      std::string a = args(s.begin_record, "");
      if (s.end_record != kNone) {
        const std::string e = args(s.end_record, "end_");
        if (!e.empty()) a += (a.empty() ? "" : ",") + e;
      }
      if (s.resumed) a += std::string(a.empty() ? "" : ",") + "\"resumed_after_switch\":true";
      if (s.suspended) a += std::string(a.empty() ? "" : ",") + "\"continues_after_switch\":true";
      if (s.end_record == kNone && !s.suspended) a += std::string(a.empty() ? "" : ",") + "\"open_at_trace_end\":true";
      const std::string j = head("X", s.name, s.category, s.cpu, s.begin) +
                            ",\"dur\":" + duration_micros(s.end - s.begin) + ",\"args\":{" + a + "}}";
      add(s.begin, 1, s.end - s.begin, 1 + s.depth, j);
    }
  }

  void instants() {
    for (std::size_t idx = 0; idx < t_.records.size(); ++idx) {
      const Record& r = t_.records[idx];
      const EventDesc& e = t_.event(r.event);
      if (e.kind == EventKind::task_switch || e.kind == EventKind::begin || e.kind == EventKind::end) continue;
      const std::int64_t ts = tl_.ns[idx];
      if (!o_.cpu_selected(r.cpu) || !o_.in_window(ts)) continue;
      add(ts, 2, 0, 0,
          head("i", e.name, e.category, r.cpu, ts) + ",\"s\":\"t\",\"args\":{\"task\":\"" +
              json_escape(tl_.task_label(r.task)) + "\"" + (e.args.empty() ? "" : ",") + args(idx, "") + "}}");
    }
  }

  void flows() {
    for (const Flow& f : tl_.flows) {
      const Record& from = t_.records[f.from_record];
      const Record& to = t_.records[f.to_record];
      const std::int64_t a = tl_.ns[f.from_record];
      const std::int64_t b = tl_.ns[f.to_record];
      if (!o_.cpu_selected(from.cpu) || !o_.cpu_selected(to.cpu) || !o_.in_window(a) || !o_.in_window(b)) continue;
      const std::string name = t_.event(from.event).name;
      const std::string id = ",\"id\":\"" + hex(f.id) + "\"";
      add(a, 3, 0, 0, head("s", name, "flow", from.cpu, a) + id + "}");
      add(b, 0, 0, 0, head("f", name, "flow", to.cpu, b) + id + "}");
    }
  }

  void drops() {
    for (const DropReport& d : t_.drops) {
      const std::int64_t ts = t_.ns(d.ticks);
      if (!o_.cpu_selected(d.cpu) || !o_.in_window(ts)) continue;
      add(ts, 2, 0, 0,
          head("i", "dropped " + std::to_string(d.count) + " records", "trace", d.cpu, ts) +
              ",\"s\":\"t\",\"args\":{\"count\":" + std::to_string(d.count) +
              ",\"total_on_cpu\":" + std::to_string(d.total) + "}}");
    }
  }

  const Output& o_;
  const Trace& t_;
  const Timeline& tl_;
  std::vector<Item> items_;
};

}  // namespace

void write_chrome_json(std::ostream& out, const Output& o) { Writer(o).run(out); }

}  // namespace platypos::tracetool
