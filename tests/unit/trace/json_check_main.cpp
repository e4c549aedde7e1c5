// platypos_trace_json_check FILE [--min-slices N] [--min-flows N] [--slice NAME]...: validates Chrome trace-event
// JSON (json_check.hpp) for the end-to-end tests. Exit 0 when valid and the minimums hold, 1 otherwise.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "json_check.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [--min-slices N] [--min-flows N] [--slice NAME]...\n", argv[0]);
    return 2;
  }
  std::size_t min_slices = 1, min_flows = 0;
  std::vector<std::string> want;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--min-slices") == 0) {
      min_slices = std::strtoul(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--min-flows") == 0) {
      min_flows = std::strtoul(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--slice") == 0) {
      want.emplace_back(argv[i + 1]);
    } else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", argv[1]);
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const auto c = platypos::tracetest::check_chrome_trace_text(ss.str());
  for (const std::string& e : c.errors) std::printf("json check: %s\n", e.c_str());
  bool ok = c.errors.empty();
  if (c.slices < min_slices) {
    std::printf("json check: %zu slices, expected at least %zu\n", c.slices, min_slices);
    ok = false;
  }
  if (c.flows < min_flows) {
    std::printf("json check: %zu flows, expected at least %zu\n", c.flows, min_flows);
    ok = false;
  }
  for (const std::string& name : want) {
    bool found = false;
    for (const std::string& s : c.slice_names) found = found || s == name;
    if (!found) {
      std::printf("json check: no slice named '%s'\n", name.c_str());
      ok = false;
    }
  }
  std::printf("json check: %s: %zu events, %zu slices, %zu instants, %zu flows, %zu tracks: %s\n", argv[1], c.events,
              c.slices, c.instants, c.flows, c.tracks, ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
