#include "timeline.hpp"

#include <algorithm>
#include <tuple>

namespace platypos::tracetool {
namespace {

struct OpenSpan {
  std::string name;
  std::string category;
  std::int64_t piece_begin = 0;
  std::int64_t span_begin = 0;
  std::uint32_t depth = 0;
  std::size_t begin_record = 0;
  std::uint32_t piece_cpu = 0;
  bool resumed = false;
};

struct CpuState {
  bool running = false;
  std::uint32_t task = 0;
  std::int64_t run_begin = 0;
  bool from_start = false;
  std::int64_t last = 0;
};

// Span stacks belong to a task, or to a CPU's idle context (task 0 is per CPU).
std::uint64_t context_key(std::uint32_t task, std::uint32_t cpu) {
  return task != 0 ? task : (std::uint64_t{1} << 40) | cpu;
}

int first_arg(const EventDesc& e, ArgType type, int skip = 0) {
  for (std::size_t i = 0; i < e.args.size(); ++i) {
    if (e.args[i].type == type && skip-- == 0) return static_cast<int>(i);
  }
  return -1;
}

class Builder {
 public:
  Builder(const Trace& t, Timeline& tl) : t_(t), tl_(tl), cpus_(t.header.cpu_count) {}

  void run() {
    const std::size_t n = t_.records.size();
    tl_.ns.resize(n);
    tl_.indent.assign(n, 0);
    tl_.cpu_records.assign(t_.header.cpu_count, {});
    for (std::size_t i = 0; i < n; ++i) {
      tl_.ns[i] = t_.ns(t_.records[i].ticks);
      tl_.cpu_records[t_.records[i].cpu].push_back(i);
    }
    // Each CPU's records by timestamp, stably (a nested interrupt's record can precede the interrupted one's).
    std::vector<std::size_t> pos(n);
    for (auto& list : tl_.cpu_records) {
      std::stable_sort(list.begin(), list.end(),
                       [&](std::size_t a, std::size_t b) { return t_.records[a].ticks < t_.records[b].ticks; });
      for (std::size_t k = 0; k < list.size(); ++k) pos[list[k]] = k;
    }
    tl_.order.resize(n);
    for (std::size_t i = 0; i < n; ++i) tl_.order[i] = i;
    std::sort(tl_.order.begin(), tl_.order.end(), [&](std::size_t a, std::size_t b) {
      return std::tuple(tl_.ns[a], t_.records[a].cpu, pos[a]) < std::tuple(tl_.ns[b], t_.records[b].cpu, pos[b]);
    });
    tl_.first_ns = n > 0 ? tl_.ns[tl_.order.front()] : static_cast<std::int64_t>(t_.header.start.ns);
    tl_.last_ns = n > 0 ? tl_.ns[tl_.order.back()] : tl_.first_ns;
    name_tasks();
    for (std::size_t idx : tl_.order) step(idx);
    finish();
  }

 private:
  void name_tasks() {
    for (const Record& r : t_.records) {
      const EventDesc& e = t_.event(r.event);
      if (e.kind == EventKind::task_new) {
        const int task = first_arg(e, ArgType::task);
        const int name = first_arg(e, ArgType::str);
        if (task < 0 || name < 0) continue;
        TaskInfo& info = tl_.tasks[static_cast<std::uint32_t>(t_.arg(r, task).bits)];
        info.name = std::string(t_.str(t_.arg(r, name)));
        for (std::size_t i = 0; i < e.args.size(); ++i) {
          if (e.args[i].type == ArgType::hex && e.args[i].name == "process") info.process = t_.arg(r, i).bits;
          if (e.args[i].type == ArgType::addr && !info.has_entry) {
            info.entry = t_.arg(r, i).bits;
            info.has_entry = true;
          }
        }
        continue;
      }
      int process = -1, name = -1;
      for (std::size_t i = 0; i < e.args.size(); ++i) {
        if (e.args[i].type == ArgType::hex && e.args[i].name == "process") process = static_cast<int>(i);
        if (e.args[i].type == ArgType::str && e.args[i].name == "name") name = static_cast<int>(i);
      }
      if (process >= 0 && name >= 0) tl_.processes[t_.arg(r, process).bits] = std::string(t_.str(t_.arg(r, name)));
    }
  }

  std::vector<OpenSpan>& stack(std::uint32_t task, std::uint32_t cpu) { return stacks_[context_key(task, cpu)]; }

  void start_run(std::uint32_t cpu, std::uint32_t task, std::int64_t at, bool from_start) {
    CpuState& cs = cpus_[cpu];
    cs.running = true;
    cs.task = task;
    cs.run_begin = at;
    cs.from_start = from_start;
    for (OpenSpan& o : stack(task, cpu)) {
      o.piece_begin = at;
      o.piece_cpu = cpu;
      o.resumed = true;
    }
  }

  void end_run(std::uint32_t cpu, std::int64_t at, bool to_end) {
    CpuState& cs = cpus_[cpu];
    if (!cs.running) return;
    for (OpenSpan& o : stack(cs.task, cpu)) emit_piece(cs.task, o, at, kNone, !to_end);
    tl_.runs.push_back(Run{cpu, cs.task, cs.run_begin, at, cs.from_start, to_end});
    cs.running = false;
  }

  void emit_piece(std::uint32_t task, const OpenSpan& o, std::int64_t end, std::size_t end_record, bool suspended) {
    Span s;
    s.cpu = o.piece_cpu;
    s.task = task;
    s.name = o.name;
    s.category = o.category;
    s.begin = o.piece_begin;
    s.end = end;
    s.span_begin = o.span_begin;
    s.depth = o.depth;
    s.begin_record = o.begin_record;
    s.end_record = end_record;
    s.resumed = o.resumed;
    s.suspended = suspended;
    tl_.spans.push_back(std::move(s));
  }

  void step(std::size_t idx) {
    const Record& r = t_.records[idx];
    const EventDesc& e = t_.event(r.event);
    const std::int64_t at = tl_.ns[idx];
    CpuState& cs = cpus_[r.cpu];
    cs.last = at;
    if (!cs.running) {
      start_run(r.cpu, r.task, at, true);
    } else if (e.kind != EventKind::task_switch && r.task != cs.task) {
      // Another task records here: the switch to it was lost (dropped), or made before the trace started.
      end_run(r.cpu, at, false);
      start_run(r.cpu, r.task, at, false);
    }
    std::vector<OpenSpan>& st = stack(r.task, r.cpu);
    tl_.indent[idx] = static_cast<std::uint32_t>(st.size());
    switch (e.kind) {
      case EventKind::task_switch: {
        const int from = first_arg(e, ArgType::task);
        const int to = first_arg(e, ArgType::task, 1);
        if (from >= 0 && to >= 0) {
          end_run(r.cpu, at, false);
          start_run(r.cpu, static_cast<std::uint32_t>(t_.arg(r, to).bits), at, false);
        }
        break;
      }
      case EventKind::begin: {
        OpenSpan o;
        o.name = span_name(e.name);
        o.category = e.category;
        o.piece_begin = o.span_begin = at;
        o.depth = static_cast<std::uint32_t>(st.size());
        o.begin_record = idx;
        o.piece_cpu = r.cpu;
        st.push_back(std::move(o));
        break;
      }
      case EventKind::end: {
        if (st.empty()) {
          ++tl_.unmatched_ends;
          break;
        }
        const OpenSpan o = std::move(st.back());
        st.pop_back();
        emit_piece(r.task, o, at, idx, false);
        tl_.span_duration[idx] = at - o.span_begin;
        tl_.indent[idx] = static_cast<std::uint32_t>(st.size());
        break;
      }
      case EventKind::instant:
      case EventKind::task_new: break;
    }
    for (std::size_t i = 0; i < e.args.size(); ++i) {
      const std::uint64_t id = t_.arg(r, i).bits;
      if (id == 0) continue;
      if (e.args[i].type == ArgType::flow_begin) {
        pending_[id] = idx;
      } else if (e.args[i].type == ArgType::flow_end) {
        auto it = pending_.find(id);
        if (it == pending_.end()) continue;  // not started in this trace, or already ended (each id once)
        tl_.flow_by_from[it->second] = tl_.flows.size();
        tl_.flow_by_to[idx] = tl_.flows.size();
        tl_.flows.push_back(Flow{id, it->second, idx});
        pending_.erase(it);
      }
    }
  }

  void finish() {
    for (std::uint32_t c = 0; c < cpus_.size(); ++c) {
      if (!cpus_[c].running) continue;
      tl_.open_at_end += stack(cpus_[c].task, c).size();
      end_run(c, cpus_[c].last, true);
    }
    tl_.unmatched_flows = pending_.size();
  }

  const Trace& t_;
  Timeline& tl_;
  std::vector<CpuState> cpus_;
  std::unordered_map<std::uint64_t, std::vector<OpenSpan>> stacks_;
  std::unordered_map<std::uint64_t, std::size_t> pending_;
};

}  // namespace

std::string span_name(const std::string& event_name) {
  for (const char* suffix : {"_enter", "_begin", "_start"}) {
    const std::string s(suffix);
    if (event_name.size() > s.size() && event_name.compare(event_name.size() - s.size(), s.size(), s) == 0) {
      return event_name.substr(0, event_name.size() - s.size());
    }
  }
  return event_name;
}

std::string Timeline::task_name(std::uint32_t task) const {
  if (task == 0) return "idle";
  auto it = tasks.find(task);
  return it != tasks.end() && !it->second.name.empty() ? it->second.name : "task";
}

std::string Timeline::task_label(std::uint32_t task) const {
  if (task == 0) return "idle";
  std::string label = task_name(task) + "#" + std::to_string(task);
  auto it = tasks.find(task);
  if (it != tasks.end() && it->second.process != 0) {
    auto p = processes.find(it->second.process);
    if (p != processes.end()) label += " (" + p->second + ")";
  }
  return label;
}

Timeline build_timeline(const Trace& trace) {
  Timeline tl;
  Builder(trace, tl).run();
  return tl;
}

}  // namespace platypos::tracetool
