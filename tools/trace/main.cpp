// platypos-trace: decodes a PlatypOS trace (a file from platypos-sim --trace, or the COM2 capture of
// `just run --trace`) into readable text, a summary, Chrome trace-event JSON for ui.perfetto.dev and
// chrome://tracing, or a gnuplot timeline. Everything it knows about the events comes from the file's header.
//
//   platypos-trace run.trace                                 summary, then every record per CPU
//   platypos-trace run.trace --format perfetto -o run.json  open run.json in ui.perfetto.dev
//   platypos-trace run.trace --cpu 2 --from 20ms --to 21ms  a window of one CPU
//
// Exit status: 0 decoded, 1 not a trace or corrupt, 2 bad usage.

#include <CLI/CLI.hpp>

#include <unistd.h>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "chrome_json.hpp"
#include "gnuplot_output.hpp"
#include "output.hpp"
#include "text_output.hpp"
#include "timeline.hpp"
#include "trace_reader.hpp"

namespace {

using namespace platypos::tracetool;

// "20ms", "1.5ms", "300us", "2s", "1500ns", "0" -> nanoseconds.
std::optional<std::int64_t> parse_time(const std::string& text) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::string unit = text.substr(used);
  double scale = 0;
  if (unit == "ns" || (unit.empty() && v == 0)) {
    scale = 1;
  } else if (unit == "us") {
    scale = 1e3;
  } else if (unit == "ms") {
    scale = 1e6;
  } else if (unit == "s") {
    scale = 1e9;
  } else {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(v * scale);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "platypos-trace: decode a PlatypOS trace (platypos-sim --trace FILE, just run --trace FILE).\n"
      "Formats: text (summary, then every record per CPU), summary, perfetto (Chrome trace-event JSON for\n"
      "ui.perfetto.dev and chrome://tracing), gnuplot (a script that draws a per-CPU timeline PNG).",
      "platypos-trace"};
  std::string input, output, format = "text", elf, from_text, to_text;
  bool no_symbols = false, no_flows = false;
  OutputOptions opt;
  app.add_option("trace", input, "The trace file (or a QEMU serial capture of COM2)")->required();
  app.add_option("-f,--format", format, "text, summary, perfetto (also: json, chrome), gnuplot")
      ->check(CLI::IsMember({"text", "summary", "perfetto", "json", "chrome", "gnuplot"}))
      ->capture_default_str();
  app.add_option("-o,--output", output, "Write here instead of standard output");
  app.add_option("--elf", elf, "ELF file that names code addresses (default: the image named in the trace)");
  app.add_flag("--no-symbols", no_symbols, "Leave code addresses numeric");
  app.add_option("--cpu", opt.cpus, "Only these CPUs (repeatable)");
  app.add_option("--from", from_text, "Start of the window, since the trace started: e.g. 20ms, 1.5ms, 300us");
  app.add_option("--to", to_text, "End of the window");
  app.add_option("--png", opt.png, "gnuplot: the PNG file the script writes")->capture_default_str();
  app.add_flag("--no-flows", no_flows, "gnuplot: no wake-up arrows");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  opt.flows = !no_flows;
  opt.source = input;
  if (!from_text.empty()) {
    const auto v = parse_time(from_text);
    if (!v) {
      std::fprintf(stderr, "platypos-trace: --from: '%s' is not a time like 20ms\n", from_text.c_str());
      return 2;
    }
    opt.from_ns = *v;
  }
  if (!to_text.empty()) {
    const auto v = parse_time(to_text);
    if (!v) {
      std::fprintf(stderr, "platypos-trace: --to: '%s' is not a time like 21ms\n", to_text.c_str());
      return 2;
    }
    opt.to_ns = *v;
  }

  Trace trace;
  try {
    trace = read_trace_file(input);
  } catch (const TraceError& e) {
    std::fprintf(stderr, "platypos-trace: %s: %s\n", input.c_str(), e.what());
    return 1;
  }
  if (trace.truncated) {
    std::fprintf(stderr, "platypos-trace: %s: warning: truncated trace (no end packet): decoding what is complete\n",
                 input.c_str());
  }
  std::optional<platypos::tools::ElfSymbols> symbols;
  if (!no_symbols) {
    const std::string path = !elf.empty() ? elf : trace.header.image;
    if (!path.empty() && (!elf.empty() || access(path.c_str(), R_OK) == 0)) {
      std::string error;
      symbols = platypos::tools::ElfSymbols::load(path, &error);
      if (!symbols) std::fprintf(stderr, "platypos-trace: no symbols from %s: %s\n", path.c_str(), error.c_str());
    }
  }
  const Timeline timeline = build_timeline(trace);
  const Output out(trace, timeline, opt, symbols ? &*symbols : nullptr);

  std::ofstream file;
  if (!output.empty()) {
    file.open(output);
    if (!file) {
      std::fprintf(stderr, "platypos-trace: cannot write %s\n", output.c_str());
      return 1;
    }
  }
  std::ostream& os = output.empty() ? std::cout : file;
  if (format == "text") {
    write_text(os, out);
  } else if (format == "summary") {
    write_summary(os, out);
  } else if (format == "gnuplot") {
    write_gnuplot(os, out);
  } else {
    write_chrome_json(os, out);
  }
  os.flush();
  if (!os) {
    std::fprintf(stderr, "platypos-trace: write error\n");
    return 1;
  }
  return 0;
}
