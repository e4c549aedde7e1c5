// Reading results/: each suite's Google Benchmark JSON (--benchmark_out_format=json) and the timings `just bench`
// records.

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench_report.hpp"

namespace platypos::benchreport {
namespace {

double time_unit_to_ns(const std::string& unit, const std::string& where) {
  if (unit == "ns") return 1;
  if (unit == "us") return 1e3;
  if (unit == "ms") return 1e6;
  if (unit == "s") return 1e9;
  throw Error(where + ": unknown time_unit \"" + unit + "\"");
}

std::string as_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v.get<double>());
    return buf;
  }
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

// Google Benchmark writes NaN, Infinity and -Infinity as bare words (a coefficient of variation over a mean of 0),
// which JSON does not have: outside strings they become null.
std::string without_non_finite(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) {
        out += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    for (const char* word : {"-Infinity", "Infinity", "NaN"}) {
      const std::size_t n = std::char_traits<char>::length(word);
      if (text.compare(i, n, word) == 0) {
        out += "null";
        i += n - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

Suite load_suite(const std::string& dir, const std::string& name) {
  Suite s;
  s.name = name;
  s.path = dir + "/" + name + ".json";
  std::ifstream in(s.path);
  if (!in) return s;  // not run
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw Error(s.path + ": empty (an interrupted run?); run `just bench` again, or delete the file");
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(without_non_finite(text));
  } catch (const nlohmann::json::exception& e) {
    throw Error(s.path + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object() || !j.contains("benchmarks") || !j["benchmarks"].is_array()) {
    throw Error(s.path + ": not Google Benchmark JSON output (no \"benchmarks\" array)");
  }
  s.present = true;
  if (j.contains("context") && j["context"].is_object()) {
    for (const auto& [k, v] : j["context"].items()) s.context[k] = as_text(v);
  }

  // Group the runs by run name: the median aggregate wins over the repetitions.
  std::map<std::string, std::size_t> index;  // run name -> entries position
  std::map<std::string, bool> from_median;
  std::size_t n = 0;
  for (const auto& b : j["benchmarks"]) {
    ++n;
    const std::string where = s.path + ": benchmark " + std::to_string(n);
    if (!b.is_object() || !b.contains("name") || !b["name"].is_string()) {
      throw Error(where + ": no \"name\"");
    }
    const std::string run_type = b.value("run_type", "iteration");
    const bool median = run_type == "aggregate" && b.value("aggregate_name", "") == "median";
    if (run_type == "aggregate" && !median) continue;
    const std::string run_name = b.contains("run_name") && b["run_name"].is_string() ? b["run_name"].get<std::string>()
                                                                                     : b["name"].get<std::string>();
    const auto at = index.find(run_name);
    if (at != index.end() && (from_median[run_name] || !median)) continue;  // keep the first repetition or median

    Entry e;
    e.name = run_name;
    if (b.value("error_occurred", false)) {
      e.error = b.value("error_message", "failed");
    } else {
      for (const char* key : {"real_time", "cpu_time", "time_unit"}) {
        if (!b.contains(key)) throw Error(where + " (" + run_name + "): no \"" + key + "\"");
      }
      if (!b["real_time"].is_number() || !b["cpu_time"].is_number() || !b["time_unit"].is_string()) {
        throw Error(where + " (" + run_name + "): real_time, cpu_time or time_unit of the wrong type");
      }
      const double scale = time_unit_to_ns(b["time_unit"].get<std::string>(), where);
      e.real_ns = b["real_time"].get<double>() * scale;
      e.cpu_ns = b["cpu_time"].get<double>() * scale;
      // Every other number is a counter (Google Benchmark writes user counters as top-level members).
      static const char* const kNotCounters[] = {"family_index", "per_family_instance_index",
                                                 "repetitions",  "repetition_index",
                                                 "threads",      "iterations",
                                                 "real_time",    "cpu_time"};
      for (const auto& [k, v] : b.items()) {
        if (!v.is_number()) continue;
        bool skip = false;
        for (const char* nc : kNotCounters) skip = skip || k == nc;
        if (!skip) e.values[k] = v.get<double>();
      }
    }
    if (at == index.end()) {
      index[run_name] = s.entries.size();
      s.entries.push_back(std::move(e));
    } else {
      s.entries[at->second] = std::move(e);
    }
    from_median[run_name] = median;
  }
  return s;
}

}  // namespace

const Entry* Suite::find(std::string_view prefix) const {
  for (const Entry& e : entries) {
    if (e.name.size() < prefix.size() || e.name.compare(0, prefix.size(), prefix) != 0) continue;
    if (e.name.size() == prefix.size() || e.name[prefix.size()] == '/') return &e;
  }
  return nullptr;
}

std::string Suite::date() const {
  const std::string d = context_value("date");
  return d.size() >= 10 ? d.substr(0, 10) : d;
}

std::string Suite::context_value(const std::string& key) const {
  const auto it = context.find(key);
  return it == context.end() ? std::string() : it->second;
}

Results Results::load(const std::string& dir, const std::vector<std::string>& suite_names) {
  Results r;
  r.dir = dir;
  for (const std::string& name : suite_names) r.suites[name] = load_suite(dir, name);
  std::ifstream t(dir + "/timings.txt");
  std::string line;
  int line_no = 0;
  while (std::getline(t, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string suite;
    double seconds = 0;
    if (!(in >> suite >> seconds)) {
      throw Error(dir + "/timings.txt:" + std::to_string(line_no) + ": expected \"<suite> <seconds>\"");
    }
    r.timings[suite] = seconds;
  }
  return r;
}

const Suite& Results::suite(const std::string& name) const {
  const auto it = suites.find(name);
  if (it == suites.end()) throw Error("internal: suite '" + name + "' is not in the spec's suite list");
  return it->second;
}

std::string machine_description(const Suite& s) {
  std::string out = s.context_value("platypos_cpu_model");
  if (out.empty()) out = "unknown CPU";
  const std::string cpus = s.context_value("num_cpus");
  const std::string mhz = s.context_value("mhz_per_cpu");
  if (!cpus.empty()) {
    out += ", " + cpus + (cpus == "1" ? " core" : " cores");
    if (!mhz.empty()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, " at %.1f GHz", std::atof(mhz.c_str()) / 1e3);
      out += buf;
    }
  }
  if (s.context_value("platypos_virtualized") == "yes") out += " (virtualized)";
  const std::string mem = s.context_value("platypos_memory_bytes");
  if (!mem.empty()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, ", %.1f GiB", std::atof(mem.c_str()) / (1024.0 * 1024 * 1024));
    out += buf;
  }
  for (const char* key : {"platypos_kernel", "platypos_os", "platypos_compiler"}) {
    const std::string v = s.context_value(key);
    if (!v.empty()) out += ", " + v;
  }
  return out;
}

}  // namespace platypos::benchreport
