#include "json_check.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace platypos::tracetest {

namespace {

struct Slice {
  double ts;
  double dur;
  std::size_t index;
};

// Slices on one track nest when, sorted by start (longer first), each lies inside the innermost one still open.
// Timestamps are microseconds with nanosecond decimals: allow half a nanosecond of rounding.
void check_nesting(int tid, std::vector<Slice>& slices, std::vector<std::string>& errors) {
  constexpr double kEps = 0.0005;
  std::sort(slices.begin(), slices.end(), [](const Slice& a, const Slice& b) {
    return std::tie(a.ts, b.dur, a.index) < std::tie(b.ts, a.dur, b.index);
  });
  std::vector<double> open_ends;
  for (const Slice& s : slices) {
    // Slices that ended by the time this one starts are closed (a slice starting exactly at its sibling's end is
    // its sibling).
    while (!open_ends.empty() && open_ends.back() <= s.ts + kEps) open_ends.pop_back();
    if (!open_ends.empty() && s.ts + s.dur > open_ends.back() + kEps) {
      errors.push_back("tid " + std::to_string(tid) + ": slice at " + std::to_string(s.ts) + " (dur " +
                       std::to_string(s.dur) + ") overlaps the end of its parent at " +
                       std::to_string(open_ends.back()));
      if (errors.size() > 20) return;
    }
    open_ends.push_back(s.ts + s.dur);
  }
}

}  // namespace

JsonCheck check_chrome_trace(const nlohmann::json& doc) {
  JsonCheck c;
  auto error = [&](const std::string& e) {
    if (c.errors.size() < 50) c.errors.push_back(e);
  };
  if (!doc.is_object() || !doc.contains("traceEvents") || !doc["traceEvents"].is_array()) {
    error("not the JSON object format: no traceEvents array");
    return c;
  }
  const auto& events = doc["traceEvents"];
  c.events = events.size();
  std::map<int, std::vector<Slice>> slices;
  std::set<int> named_tids, used_tids;
  struct FlowEnd {
    std::string cat, name;
    double ts;
    int ends = 0;
  };
  std::map<std::string, FlowEnd> flow_starts;
  std::vector<std::tuple<std::string, std::string, std::string, double>> flow_ends;
  std::set<std::string> names_seen;
  double last_ts = -1e300;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    const std::string at = "event " + std::to_string(i) + ": ";
    if (!e.is_object() || !e.contains("ph") || !e["ph"].is_string()) {
      error(at + "no phase");
      continue;
    }
    const std::string ph = e["ph"];
    if (!e.contains("pid") || !e["pid"].is_number_integer() || !e.contains("tid") || !e["tid"].is_number_integer()) {
      error(at + "no integer pid/tid");
      continue;
    }
    const int tid = e["tid"];
    if (ph == "M") {
      if (e.value("name", "") == "thread_name") {
        if (!e.contains("args") || !e["args"].contains("name") || !e["args"]["name"].is_string()) {
          error(at + "thread_name without a name");
        }
        named_tids.insert(tid);
      }
      continue;
    }
    if (!e.contains("ts") || !e["ts"].is_number()) {
      error(at + "no timestamp");
      continue;
    }
    const double ts = e["ts"];
    if (ts < last_ts) error(at + "out of time order");
    last_ts = ts;
    used_tids.insert(tid);
    if (!e.contains("name") || !e["name"].is_string() || e["name"].get<std::string>().empty()) {
      error(at + "no name");
      continue;
    }
    const std::string name = e["name"];
    const std::string cat = e.value("cat", "");
    if (ph == "X") {
      if (!e.contains("dur") || !e["dur"].is_number() || e["dur"].get<double>() < 0) {
        error(at + "complete event without a non-negative dur");
        continue;
      }
      slices[tid].push_back({ts, e["dur"].get<double>(), i});
      ++c.slices;
      if (names_seen.insert(name).second) c.slice_names.push_back(name);
    } else if (ph == "i" || ph == "I") {
      if (e.value("s", "t") != "t") error(at + "instant not on its thread");
      ++c.instants;
    } else if (ph == "s" || ph == "f") {
      if (!e.contains("id")) {
        error(at + "flow without an id");
        continue;
      }
      const std::string id = e["id"].is_string() ? e["id"].get<std::string>() : e["id"].dump();
      if (ph == "s") {
        if (!flow_starts.emplace(id, FlowEnd{cat, name, ts}).second) error(at + "flow id " + id + " started twice");
      } else {
        flow_ends.emplace_back(id, cat, name, ts);
      }
    } else {
      error(at + "unexpected phase '" + ph + "'");
    }
  }
  for (const auto& [id, cat, name, ts] : flow_ends) {
    auto it = flow_starts.find(id);
    if (it == flow_starts.end()) {
      error("flow " + id + " ends without a start");
      continue;
    }
    if (it->second.cat != cat || it->second.name != name) error("flow " + id + ": start and end differ in cat/name");
    if (ts < it->second.ts) error("flow " + id + " ends before it starts");
    ++it->second.ends;
  }
  for (const auto& [id, f] : flow_starts) {
    if (f.ends != 1) {
      error("flow " + id + " has " + std::to_string(f.ends) + " ends");
    } else {
      ++c.flows;
    }
  }
  for (int tid : used_tids) {
    if (!named_tids.count(tid)) error("tid " + std::to_string(tid) + " has events but no thread_name");
  }
  c.tracks = named_tids.size();
  for (auto& [tid, list] : slices) check_nesting(tid, list, c.errors);
  return c;
}

JsonCheck check_chrome_trace_text(const std::string& text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    JsonCheck c;
    c.errors.push_back(std::string("not JSON: ") + e.what());
    return c;
  }
  return check_chrome_trace(doc);
}

}  // namespace platypos::tracetest
