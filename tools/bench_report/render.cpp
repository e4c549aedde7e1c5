// Rendering the spec's tables from results: number formats, verdicts, Markdown tables, the blocks' text.

#include <cmath>
#include <cstdio>
#include <set>

#include "bench_report.hpp"

namespace platypos::benchreport {
namespace {

// Three significant digits, at most two decimals: 0.29, 9.90, 33.5, 382, 1234.
std::string three_digits(double x) {
  char buf[48];
  const double a = std::fabs(x);
  if (a == 0) return "0";
  if (a < 10) {
    std::snprintf(buf, sizeof buf, "%.2f", x);
  } else if (a < 100) {
    std::snprintf(buf, sizeof buf, "%.1f", x);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", x);
  }
  return buf;
}

std::string format_time_ns(double ns) {
  const double a = std::fabs(ns);
  if (a < 1e3) return three_digits(ns) + " ns";
  if (a < 1e6) return three_digits(ns / 1e3) + " us";
  if (a < 1e9) return three_digits(ns / 1e6) + " ms";
  return three_digits(ns / 1e9) + " s";
}

std::string format_si(double x) {
  const double a = std::fabs(x);
  if (a < 1e3) return three_digits(x);
  if (a < 1e6) return three_digits(x / 1e3) + " k";
  if (a < 1e9) return three_digits(x / 1e6) + " M";
  return three_digits(x / 1e9) + " G";
}

std::string escape_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    if (c != '\n') out += c;
  }
  return out;
}

const Entry* entry_of(const Results& r, const Metric& m) {
  const auto it = r.suites.find(m.suite);
  if (it == r.suites.end() || !it->second.present) return nullptr;
  return it->second.find(m.bench);
}

std::string render_rows(const Results& r, const RowsTable& t) {
  std::vector<std::string> header = {t.first_header, "result", "target"};
  if (t.baseline_column) header.push_back(t.baseline_header);
  std::vector<std::vector<std::string>> rows;
  for (const Row& row : t.rows) {
    const auto value = evaluate(r, row.value);
    const std::optional<double> maybe_base = row.baseline ? evaluate(r, *row.baseline) : std::nullopt;
    const double base = maybe_base.value_or(0);
    const std::optional<double> ratio = value && base != 0 ? std::optional<double>(*value / base) : std::nullopt;
    std::vector<std::string> cells = {row.label,
                                      value ? format_value(*value, row.unit) + row.suffix : missing_text(r, row.value)};
    cells.push_back(verdict(row.target, row.target.on_ratio ? ratio : value));
    if (t.baseline_column) {
      std::string b;
      if (row.baseline) {
        b = ratio ? format_ratio(*ratio) + " " + row.baseline_label + " (" + format_value(base, row.unit) + ")"
                  : row.baseline_label + ": not run";
      }
      cells.push_back(b);
    }
    rows.push_back(std::move(cells));
  }
  return markdown_table(header, rows);
}

std::string render_columns(const Results& r, const ColumnsTable& t) {
  std::vector<std::string> header = {t.first_header};
  for (const Column& c : t.columns) header.push_back(c.header);
  std::vector<std::vector<std::string>> rows;
  for (const auto& [label, bench] : t.rows) {
    std::vector<std::string> cells = {label};
    for (const Column& c : t.columns) {
      const Value v{{t.suite, bench, c.field}, std::nullopt};
      const auto x = evaluate(r, v);
      cells.push_back(x ? format_value(*x, c.unit) : missing_text(r, v));
    }
    rows.push_back(std::move(cells));
  }
  return markdown_table(header, rows);
}

std::string render_footer(const Results& r, const std::string& suite_name) {
  const Suite& s = r.suite(suite_name);
  if (!s.present) {
    if (suite_name == "kv") return "*Not run yet: `just bench-kv` writes it (no " + s.path + ").*";
    return "*Not run yet: `just bench` runs `build/hosted-release/bench/platypos_bench_" + suite_name + "` (no " +
           s.path + ").*";
  }
  std::string command = s.context_value("platypos_command");
  if (command.empty()) command = s.context_value("executable");
  const char* recipe = suite_name == "kv" ? "just bench-kv" : "just bench";
  return "*Run " + s.date() + " by `" + recipe + "`: `" + command + "`; " + machine_description(s) + ".*";
}

std::string seconds_text(double s) {
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.0f s", s);
  } else {
    std::snprintf(buf, sizeof buf, "%d min %02d s", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  }
  return buf;
}

}  // namespace

std::optional<double> evaluate(const Results& r, const Metric& m) {
  const Entry* e = entry_of(r, m);
  if (e == nullptr || !e->error.empty()) return std::nullopt;
  if (m.field == "time") return e->real_ns;
  if (m.field == "cpu_time") return e->cpu_ns;
  const auto it = e->values.find(m.field);
  if (it == e->values.end()) return std::nullopt;
  return it->second;
}

std::optional<double> evaluate(const Results& r, const Value& v) {
  const auto a = evaluate(r, v.metric);
  if (!a || !v.over) return a;
  const auto b = evaluate(r, *v.over);
  if (!b || *b == 0) return std::nullopt;
  return *a / *b;
}

// Why a value is missing: "failed (message)" when its benchmark reported an error, else "not run".
std::string missing_text(const Results& r, const Value& v) {
  for (const Metric* m : {&v.metric, v.over ? &*v.over : nullptr}) {
    if (m == nullptr) continue;
    const Entry* e = entry_of(r, *m);
    if (e != nullptr && !e->error.empty()) return "failed (" + e->error + ")";
  }
  return "not run";
}

std::string format_value(double raw, Unit unit) {
  char buf[48];
  switch (unit) {
    case Unit::ns: return format_time_ns(raw);
    case Unit::us: return format_time_ns(raw * 1e3);
    case Unit::ms: return format_time_ns(raw * 1e6);
    case Unit::seconds: return format_time_ns(raw * 1e9);
    case Unit::rate: return format_si(raw);
    case Unit::percent: std::snprintf(buf, sizeof buf, "%.3g%%", raw); return buf;
    case Unit::ratio: return format_ratio(raw);
    case Unit::number: std::snprintf(buf, sizeof buf, "%.3g", raw); return buf;
  }
  return "?";
}

std::string format_ratio(double x) {
  char buf[48];
  if (std::fabs(x) < 0.1 && x != 0) {
    std::snprintf(buf, sizeof buf, "%.2g×", x);  // 0.038×, 0.0068×
    return buf;
  }
  if (std::fabs(x) < 1) {
    std::snprintf(buf, sizeof buf, "%.2f×", x);  // 0.30×, 0.48×
    return buf;
  }
  return three_digits(x) + "×";
}

std::string verdict(const Target& t, std::optional<double> value) {
  if (t.cmp == Cmp::none) return t.text;
  if (!value) return t.text + ": not run";
  const double v = *value, limit = t.limit;
  const bool met = t.cmp == Cmp::le ? v <= limit : v >= limit;
  if (met) return t.text + ": met";
  char buf[64];
  if (t.cmp == Cmp::le) {
    const double over = v / limit;
    if (over < 2) {
      std::snprintf(buf, sizeof buf, ": **missed** by %.0f%%", (over - 1) * 100);
    } else {
      std::snprintf(buf, sizeof buf, ": **missed** (%s the target)", format_ratio(over).c_str());
    }
  } else {
    std::snprintf(buf, sizeof buf, ": **missed** (%.0f%% of the target)", limit != 0 ? v / limit * 100 : 0.0);
  }
  return t.text + buf;
}

std::string markdown_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::string out = "|";
  for (const std::string& h : header) out += " " + escape_cell(h) + " |";
  out += "\n|";
  for (std::size_t i = 0; i < header.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& row : rows) {
    out += "|";
    for (const std::string& c : row) out += " " + escape_cell(c) + " |";
    out += "\n";
  }
  return out;
}

std::string render_block(const Results& r, const Block& b) {
  std::string out;
  if (!b.title.empty()) out += b.title + "\n\n";
  bool first = true;
  for (const Part& p : b.parts) {
    if (!first) out += "\n";
    first = false;
    if (const auto* rows = std::get_if<RowsTable>(&p)) {
      out += render_rows(r, *rows);
    } else if (const auto* cols = std::get_if<ColumnsTable>(&p)) {
      out += render_columns(r, *cols);
    } else if (const auto* text = std::get_if<Text>(&p)) {
      out += text->markdown + "\n";
    } else if (const auto* custom = std::get_if<Custom>(&p)) {
      out += custom->render(r);
    }
  }
  for (const std::string& s : b.suites) out += "\n" + render_footer(r, s) + "\n";
  return out;
}

std::string render_machine(const Results& r) {
  const Suite* first = nullptr;
  std::set<std::string> dates;
  std::vector<std::string> not_run;
  for (const std::string& name : suite_names()) {
    const Suite& s = r.suite(name);
    if (!s.present) {
      not_run.push_back(name);
      continue;
    }
    if (first == nullptr) first = &s;
    dates.insert(s.date());
  }
  if (first == nullptr)
    return "No benchmark results yet: `just bench` runs them, `just bench-report` fills these tables.\n";
  std::string out = "Measured with `just bench` on " + machine_description(*first) + "; ";
  out += dates.size() == 1 ? *dates.begin() : *dates.begin() + " to " + *dates.rbegin();
  out += ". Google Benchmark; every baseline ran in the same program, in the same run.";
  if (!r.timings.empty()) {
    double total = 0;
    std::string parts;
    for (const std::string& name : suite_names()) {
      const auto it = r.timings.find(name);
      if (it == r.timings.end()) continue;
      total += it->second;
      parts += (parts.empty() ? "" : ", ") + name + " " + seconds_text(it->second);
    }
    out += " The last `just bench` took " + seconds_text(total) + " (" + parts + ").";
  }
  if (!not_run.empty()) {
    out += " Not run yet:";
    for (std::size_t i = 0; i < not_run.size(); ++i) out += (i == 0 ? " " : ", ") + not_run[i];
    out += ".";
  }
  return out + "\n";
}

}  // namespace platypos::benchreport
