#pragma once
// Timeline: what a trace says happened, built from the records with the event kinds of the file's catalog, for the
// outputs (text, Chrome JSON, gnuplot) to render.
//
//   runs    a task on a CPU from one task_switch to the next (a record made by another task than the CPU's
//           current one also starts a run: a switch record was lost to a full ring)
//   spans   begin/end pairs, nested per task context (a task's, or a CPU's idle context): an interrupt handler that
//           switches tasks leaves its span open in the interrupted task, so a span is cut into pieces, one per run
//           of its task; pieces never cross a run boundary, which keeps them nested inside the runs
//   flows   an argument of type flow_begin to the next argument of type flow_end with the same id (each id once)
//   tasks   names from task_new records; process names from records with `process` (hex) and `name` (str) args
//
// Times are nanoseconds (Trace::ns), records are indexes into Trace::records.

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "trace_reader.hpp"

namespace platypos::tracetool {

inline constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();

struct TaskInfo {
  std::string name;
  std::uint64_t process = 0;
  std::uint64_t entry = 0;  // code address (relative to the image)
  bool has_entry = false;
};

struct Run {
  std::uint32_t cpu = 0;
  std::uint32_t task = 0;
  std::int64_t begin = 0;
  std::int64_t end = 0;
  bool from_trace_start = false;  // already running at the CPU's first record
  bool to_trace_end = false;      // still running at the CPU's last record
};

struct Span {
  std::uint32_t cpu = 0;
  std::uint32_t task = 0;
  std::string name;  // the begin event's name without _enter/_begin/_start
  std::string category;
  std::int64_t begin = 0;  // this piece
  std::int64_t end = 0;
  std::int64_t span_begin = 0;  // the whole span
  std::uint32_t depth = 0;      // open spans of the task around it
  std::size_t begin_record = kNone;
  std::size_t end_record = kNone;  // kNone: still open at the end of the trace
  bool resumed = false;            // a piece after the task was switched back in
  bool suspended = false;          // a piece that ends because the task was switched out
};

struct Flow {
  std::uint64_t id = 0;
  std::size_t from_record = 0;
  std::size_t to_record = 0;
};

struct Timeline {
  std::vector<std::int64_t> ns;                       // per record
  std::vector<std::vector<std::size_t>> cpu_records;  // per CPU, in time order
  std::vector<std::size_t> order;                     // every record in time order (ties: CPU, then CPU order)
  std::vector<std::uint32_t> indent;                  // per record: span depth of its task (an end: after it)
  std::map<std::uint32_t, TaskInfo> tasks;
  std::map<std::uint64_t, std::string> processes;
  std::vector<Run> runs;
  std::vector<Span> spans;
  std::vector<Flow> flows;
  std::unordered_map<std::size_t, std::size_t> flow_by_from;  // record -> flow
  std::unordered_map<std::size_t, std::size_t> flow_by_to;
  std::unordered_map<std::size_t, std::int64_t> span_duration;  // end record -> duration of the whole span
  std::int64_t first_ns = 0;  // earliest and latest record (the trace start when there is none)
  std::int64_t last_ns = 0;
  std::uint64_t unmatched_ends = 0;   // an end with no open span (the begin predates the trace or was dropped)
  std::uint64_t unmatched_flows = 0;  // flow_begin ids never ended
  std::uint64_t open_at_end = 0;      // spans still open at the end

  // "worker#5 (web)", "idle" (task 0), "task#9" (unnamed).
  std::string task_label(std::uint32_t task) const;
  // The task's name alone ("idle", "task#9" when unnamed).
  std::string task_name(std::uint32_t task) const;
};

Timeline build_timeline(const Trace& trace);
std::string span_name(const std::string& event_name);

}  // namespace platypos::tracetool
