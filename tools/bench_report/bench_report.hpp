#pragma once
// platypos-bench-report: turns a `just bench` run (results/: Google Benchmark JSON per suite, latency CDFs) into the
// README's performance tables, a Markdown summary and gnuplot pictures. What the tables show (rows, targets,
// baselines) is declared once, in spec.cpp.

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace platypos::benchreport {

// Every failure the tool reports: a message that names the file (and line) at fault.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// --- Results (results.cpp) ---

// One benchmark's result: its only run, or with --benchmark_repetitions the median aggregate.
struct Entry {
  std::string name;  // Google Benchmark's run name, e.g. BM_RingNop/iterations:400000/manual_time
  double real_ns = 0;
  double cpu_ns = 0;
  std::map<std::string, double> values;  // user counters, items_per_second, bytes_per_second
  std::string error;                     // the benchmark's error message, when it failed
};

struct Suite {
  std::string name;  // "mm"
  std::string path;  // results/mm.json
  bool present = false;
  std::map<std::string, std::string> context;  // the JSON "context" (strings and numbers as text)
  std::vector<Entry> entries;                  // in the file's order

  // The benchmark named `prefix`, or whose name continues `prefix` with '/' (BM_Foo/load:30 matches
  // BM_Foo/load:30/iterations:1/manual_time, not BM_Foo/load:300); nullptr when it did not run.
  const Entry* find(std::string_view prefix) const;
  std::string date() const;  // YYYY-MM-DD of the run, from the context
  std::string context_value(const std::string& key) const;
};

struct Results {
  std::string dir;
  std::map<std::string, Suite> suites;
  std::map<std::string, double> timings;  // results/timings.txt: suite -> seconds (written by `just bench`)

  // Reads DIR/<suite>.json for every suite (a missing file is a suite that did not run) and DIR/timings.txt.
  // Throws Error on a file that is not Google Benchmark JSON.
  static Results load(const std::string& dir, const std::vector<std::string>& suite_names);
  const Suite& suite(const std::string& name) const;
};

// The run's machine, from the context bench_main.cpp records: "AMD EPYC, 2 cores at 2.1 GHz (virtualized), 23.5 GiB,
// Linux 6.1.0, Debian GNU/Linux 12 (bookworm), g++ 12.2.0 -O2 -g".
std::string machine_description(const Suite& s);

// --- What the tables show (spec.cpp) ---

// A number from the results: `field` of benchmark `bench` in suite `suite`. Fields: "time" (real time per iteration,
// ns), "cpu_time" (ns), or a counter (e.g. p99_us, time_per_switch in seconds, items_per_second).
struct Metric {
  std::string suite;
  std::string bench;
  std::string field;
};

// How a value prints. Time units say what the raw value is in; it prints in ns, us, ms or s as fits.
enum class Unit { ns, us, ms, seconds, rate, percent, ratio, number };

enum class Cmp { none, le, ge };
struct Target {
  Cmp cmp = Cmp::none;
  double limit = 0;       // in the raw value's unit (or a plain ratio when on_ratio)
  std::string text;       // how the README states it: "≤ 25 ns"
  bool on_ratio = false;  // the target is on value / baseline, not on the value
};

// A value: one metric, or the ratio of two (over set).
struct Value {
  Metric metric;
  std::optional<Metric> over;
};

// A row of a "benchmark | result | target | vs baseline" table.
struct Row {
  std::string label;
  Value value;
  Unit unit = Unit::ns;
  std::string suffix;  // after the number: " per switch"
  Target target;
  std::optional<Metric> baseline;  // shown as "0.47× malloc/free 4 KiB (21.0 ns)"
  std::string baseline_label;
};
struct RowsTable {
  std::vector<Row> rows;
  bool baseline_column = true;  // a fourth column with the ratio to each row's baseline
  std::string first_header = "benchmark";
  std::string baseline_header = "vs baseline, same run";
};

// One row per benchmark, one column per field of it.
struct Column {
  std::string header;
  std::string field;
  Unit unit;
};
struct ColumnsTable {
  std::string suite;
  std::string first_header;
  std::vector<std::pair<std::string, std::string>> rows;  // label, benchmark
  std::vector<Column> columns;
};

struct Text {
  std::string markdown;
};

// A table built by code (the headline tables).
struct Custom {
  std::function<std::string(const Results&)> render;
};

using Part = std::variant<RowsTable, ColumnsTable, Text, Custom>;

// A README block: <!-- bench:ID:begin ... --> generated text <!-- bench:ID:end -->.
struct Block {
  std::string id;
  std::string title;                // "**Allocators**" ("" for none)
  std::vector<std::string> suites;  // whose command, date and machine the block names
  std::vector<Part> parts;
};

// Every suite `just bench` runs, in order, and every block of the README.
const std::vector<std::string>& suite_names();
const std::vector<Block>& blocks();

// --- Rendering (render.cpp) ---

std::optional<double> evaluate(const Results& r, const Metric& m);
std::optional<double> evaluate(const Results& r, const Value& v);
// What a table shows for a value that is not there: "failed (message)" when its benchmark reported an error, else
// "not run".
std::string missing_text(const Results& r, const Value& v);
std::string format_value(double raw, Unit unit);
std::string format_ratio(double x);  // "0.47×"
// "≤ 25 ns: met" / "≤ 30 ns: missed by 12%" / "not run".
std::string verdict(const Target& t, std::optional<double> value);
// The generated text of one block (without its markers).
std::string render_block(const Results& r, const Block& b);
// The machine block's text: the machine, the dates, how long each suite took.
std::string render_machine(const Results& r);
// A Markdown table from a header and rows of cells.
std::string markdown_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

// --- Outputs ---

// Rewrites every block between its markers in the Markdown text; throws Error (naming the line) on a marker problem
// or a block of blocks() with no markers.
std::string rewrite_readme(const std::string& text, const std::string& file_name, const Results& r,
                           const std::set<std::string>& only = {});
// results/summary.md: the machine, the timings, every block, and each suite's own summary (all results and ratios).
std::string render_summary(const Results& r);
// results/machine.txt: key: value lines.
std::string render_machine_text(const Results& r);

// Writes the data files and a gnuplot script (work/bench.gp) that draws the PNGs into out_dir; returns the PNGs the
// script draws (those with data).
std::vector<std::string> write_plots(const Results& r, const std::string& work_dir, const std::string& out_dir);

}  // namespace platypos::benchreport
