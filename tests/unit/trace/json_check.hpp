#pragma once
// Checks a Chrome trace-event JSON document the way a viewer relies on it, with a real JSON parser (nlohmann):
// the object format with a traceEvents array; every event with a phase, pid and tid (and a timestamp, except
// metadata); complete slices with non-negative durations that nest properly on each track; flows whose every start
// has exactly one end with the same id, category and name, not earlier; a thread_name for every track with events;
// events in time order. Used by the unit tests and by platypos_trace_json_check (the QEMU and simulator tests).

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace platypos::tracetest {

struct JsonCheck {
  std::vector<std::string> errors;  // empty: valid
  std::size_t events = 0;
  std::size_t slices = 0;  // X
  std::size_t instants = 0;
  std::size_t flows = 0;                 // matched start/end pairs
  std::size_t tracks = 0;                // tids with a thread_name
  std::vector<std::string> slice_names;  // distinct, in order of appearance
};

JsonCheck check_chrome_trace(const nlohmann::json& doc);
// Parses `text` first (a parse error is reported as an error).
JsonCheck check_chrome_trace_text(const std::string& text);

}  // namespace platypos::tracetest
