// The README's pictures: data files for gnuplot from results/ and a script (bench.gp) that draws them.
//
//   serve-cdf-noisy{0,1}.png   latency distribution of each load level, PlatypOS (solid) and Linux (dashed); x is the
//                              latency (log), y the percentile on a log scale of 1 - fraction, so the tail gets room
//   serve-throughput-p99.png   achieved throughput against p99, both systems, with and without the neighbour
//   simscale-p999.png          p999 against load in the simulator, dedicated and timeshare, 16 and 64 CPUs
//
// A picture with no data (its suite has not run) is left out of the script, and said so.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "bench_report.hpp"

namespace platypos::benchreport {
namespace {

namespace fs = std::filesystem;

const int kLoads[] = {30, 50, 70, 90};
const char* const kLoadColors[] = {"#4575b4", "#1a9850", "#f46d43", "#a50026"};

struct Curve {
  std::string file;
  std::string title;
  std::string style;  // gnuplot line style: "lw 2 lc rgb '#...' dt 1"
  std::string with = "lines";
  std::string labels;  // a third column to print next to each point ("" for none)
};

// The CDF file of a benchmark: results/latency/<name with '/' and ':' as '_'>[_suffix].cdf.
std::string find_cdf(const std::string& dir, const std::string& bench) {
  std::string stem = bench;
  for (char& c : stem) {
    if (c == '/' || c == ':') c = '_';
  }
  std::error_code ec;
  std::vector<std::string> found;
  for (const auto& f : fs::directory_iterator(dir, ec)) {
    const std::string name = f.path().filename().string();
    if (name.size() < 4 || name.substr(name.size() - 4) != ".cdf") continue;
    const std::string s = name.substr(0, name.size() - 4);
    if (s == stem || (s.size() > stem.size() && s.compare(0, stem.size(), stem) == 0 && s[stem.size()] == '_')) {
      found.push_back(f.path().string());
    }
  }
  std::sort(found.begin(), found.end());
  return found.empty() ? std::string() : found.front();
}

struct Tail {
  double smallest = 0;  // the smallest share written (0 when nothing was)
  double min_us = 0, max_us = 0;
};

// Reads a CDF ("<latency_us> <fraction_at_or_below>" lines) and writes "<latency_us> <fraction at or above>": the
// share of requests at least that slow, which stays above zero up to the slowest request.
Tail write_tail(const std::string& cdf, const std::string& out_path) {
  std::ifstream in(cdf);
  std::ofstream out(out_path);
  out << "# from " << cdf << ": latency_us fraction_of_requests_at_or_above\n";
  std::string line;
  double previous = 0;
  Tail t;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    double x = 0, f = 0;
    if (!(fields >> x >> f) || f < previous - 1e-12 || f > 1 + 1e-9) {
      throw Error(cdf + ":" + std::to_string(line_no) +
                  ": expected \"<latency_us> <fraction_at_or_below>\", "
                  "fractions rising to 1");
    }
    const double tail = 1 - previous;
    out << x << " " << tail << "\n";
    t.smallest = t.smallest == 0 ? tail : std::min(t.smallest, tail);
    t.min_us = t.min_us == 0 ? x : std::min(t.min_us, x);
    t.max_us = std::max(t.max_us, x);
    previous = f;
  }
  return t;
}

// Tics at 1, 2, 5, 10, 20, 50, ... microseconds on a log axis (only 1, 10, 100, ... when not dense: for a range of
// many decades), labelled with their unit ("500 us", "2 ms", "10 s"), so that a range within one decade still has
// labelled tics.
std::string log_time_tics(const char* axis, bool dense = true) {
  std::string out = std::string("set ") + axis + "tics (";
  bool first = true;
  for (double decade = 0.1; decade < 1e9; decade *= 10) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (!dense && m != 1.0) continue;
      const double us = decade * m;
      char t[64];
      if (us < 1e3) {
        std::snprintf(t, sizeof t, "%s'%g us' %g", first ? "" : ", ", us, us);
      } else if (us < 1e6) {
        std::snprintf(t, sizeof t, "%s'%g ms' %g", first ? "" : ", ", us / 1e3, us);
      } else {
        std::snprintf(t, sizeof t, "%s'%g s' %g", first ? "" : ", ", us / 1e6, us);
      }
      out += t;
      first = false;
    }
  }
  return out + ")\n";
}

// The start of one picture in the script: a fresh gnuplot state, the PNG terminal, the output file and the title.
std::string picture(const std::string& png, const std::string& title) {
  return "\n# " + png +
         "\nreset session\n"
         "set terminal pngcairo size 1100,700 font 'DejaVu Sans,11' background 'white'\n"
         "set output '" +
         png + "'\nset title '" + title + "'\n";
}

std::string plot_command(const std::vector<Curve>& curves) {
  std::string out = "plot ";
  for (std::size_t i = 0; i < curves.size(); ++i) {
    const Curve& c = curves[i];
    if (i != 0) out += ", \\\n     ";
    out += "'" + c.file + "' using 1:2 with " + c.with + " " + c.style + " title '" + c.title + "'";
    if (!c.labels.empty()) {
      out += ", \\\n     '" + c.file + "' using 1:2:" + c.labels + " with labels offset char 1.2,0.6 font ',9' " +
             "textcolor rgb 'gray40' notitle";
    }
  }
  return out + "\n";
}

}  // namespace

std::vector<std::string> write_plots(const Results& r, const std::string& work_dir, const std::string& out_dir) {
  fs::create_directories(work_dir);
  fs::create_directories(out_dir);
  const std::string latency_dir = r.dir + "/latency";
  std::string gp = "# Written by platypos-bench-report plot from " + r.dir +
                   "; `just bench-plot` runs it with gnuplot.\n"
                   "set terminal pngcairo size 1100,700 font 'DejaVu Sans,11' background 'white'\n"
                   "set encoding utf8\n"
                   "set grid xtics ytics mxtics mytics lc rgb '#c8c8c8'\n";
  std::vector<std::string> drawn;
  std::vector<std::string> skipped;

  // --- Latency CDFs, one picture per neighbour setting. ---
  for (int noisy : {0, 1}) {
    std::vector<Curve> curves;
    double smallest = 1, min_us = 0, max_us = 0;
    for (const char* system : {"Platypos", "Linux"}) {
      for (int i = 0; i < 4; ++i) {
        const std::string bench =
            std::string("BM_Serve") + system + "/noisy:" + std::to_string(noisy) + "/load:" + std::to_string(kLoads[i]);
        const std::string cdf = find_cdf(latency_dir, bench);
        if (cdf.empty()) continue;
        const std::string dat = work_dir + "/serve-cdf-noisy" + std::to_string(noisy) + "-" + system + "-load" +
                                std::to_string(kLoads[i]) + ".dat";
        const Tail t = write_tail(cdf, dat);
        if (t.smallest <= 0) continue;
        smallest = std::min(smallest, t.smallest);
        min_us = min_us == 0 ? t.min_us : std::min(min_us, t.min_us);
        max_us = std::max(max_us, t.max_us);
        const bool platypos = std::string(system) == "Platypos";
        curves.push_back({dat, std::string(platypos ? "PlatypOS" : "Linux") + ", " + std::to_string(kLoads[i]) + "%",
                          std::string("lw 2 lc rgb '") + kLoadColors[i] + "' dt " + (platypos ? "1" : "2"), "lines",
                          ""});
      }
    }
    const std::string png = out_dir + "/serve-cdf-noisy" + std::to_string(noisy) + ".png";
    if (curves.empty()) {
      skipped.push_back(png + " (no " + latency_dir + "/BM_Serve*_noisy_" + std::to_string(noisy) + "_*.cdf)");
      continue;
    }
    const double ymin = std::pow(10.0, std::floor(std::log10(smallest) + 1e-9));
    gp += picture(png, std::string("Request latency, ") + (noisy != 0 ? "with" : "without") +
                           " the noisy neighbour: PlatypOS (solid) and Linux (dashed), by load") +
          "set logscale x 10\nset logscale y 10\n" + log_time_tics("x", min_us <= 0 || max_us / min_us < 300) +
          "set xlabel 'latency from scheduled arrival to reply'\nset ylabel 'percentile'\n";
    char range[64];
    std::snprintf(range, sizeof range, "set yrange [1:%g]\n", ymin);
    gp += range;
    std::string tics = "set ytics (";
    const std::pair<const char*, double> kTics[] = {{"p0", 1},         {"p50", 0.5},       {"p90", 0.1},
                                                    {"p99", 0.01},     {"p99.9", 0.001},   {"p99.99", 1e-4},
                                                    {"p99.999", 1e-5}, {"p99.9999", 1e-6}, {"p99.99999", 1e-7}};
    bool first = true;
    for (const auto& [label, at] : kTics) {
      if (at < ymin) break;
      char t[48];
      std::snprintf(t, sizeof t, "%s'%s' %g", first ? "" : ", ", label, at);
      tics += t;
      first = false;
    }
    gp += tics + ")\nset grid xtics ytics mxtics lc rgb '#c8c8c8'\nset key outside right top\n";
    gp += plot_command(curves);
    drawn.push_back(png);
  }

  // --- Throughput against p99. ---
  {
    std::vector<Curve> curves;
    for (const char* system : {"Platypos", "Linux"}) {
      for (int noisy : {0, 1}) {
        const std::string dat = work_dir + "/serve-throughput-" + system + "-noisy" + std::to_string(noisy) + ".dat";
        std::ofstream out(dat);
        out << "# req_per_s p99_us load_percent\n";
        int points = 0;
        for (int load : kLoads) {
          const std::string bench =
              std::string("BM_Serve") + system + "/noisy:" + std::to_string(noisy) + "/load:" + std::to_string(load);
          const auto rate = evaluate(r, Metric{"serve", bench, "req_per_s"});
          const auto p99 = evaluate(r, Metric{"serve", bench, "p99_us"});
          if (!rate || !p99 || *p99 <= 0) continue;
          out << *rate << " " << *p99 << " " << load << "\n";
          ++points;
        }
        if (points == 0) continue;
        const bool platypos = std::string(system) == "Platypos";
        curves.push_back(
            {dat,
             std::string(platypos ? "PlatypOS" : "Linux") + (noisy != 0 ? ", with" : ", without") + " the neighbour",
             std::string("lw 2 pt 7 ps 1.2 lc rgb '") + (platypos ? "#2166ac" : "#b2182b") + "' dt " +
                 (noisy != 0 ? "2" : "1"),
             "linespoints", curves.empty() ? "(sprintf('%d%%', $3))" : ""});  // loads labelled once
      }
    }
    const std::string png = out_dir + "/serve-throughput-p99.png";
    if (curves.empty()) {
      skipped.push_back(png + " (no serve results in " + r.dir + "/serve.json)");
    } else {
      gp += picture(png, "Throughput against p99 latency (points: offered load, % of one server core)") +
            "set logscale y 10\nset format x '%.0s%c'\nset offsets graph 0.04, graph 0.04, 0, 0\n"
            "set xlabel 'requests served per second'\nset ylabel 'p99 latency'\n"
            "set grid xtics ytics mytics lc rgb '#c8c8c8'\nset key left top\n";
      gp += log_time_tics("y");
      gp += plot_command(curves);
      drawn.push_back(png);
    }
  }

  // --- Simulator: p999 against load. ---
  {
    std::vector<Curve> curves;
    const char* const kColors[] = {"#2166ac", "#1a9850", "#f46d43", "#a50026"};
    int color = 0;
    for (int timeshare : {0, 1}) {
      for (int cpus : {16, 64}) {
        const char* policy = timeshare != 0 ? "timeshare" : "dedicated";
        const std::string dat = work_dir + "/simscale-" + policy + "-cpus" + std::to_string(cpus) + ".dat";
        std::ofstream out(dat);
        out << "# load_percent p999_us\n";
        int points = 0;
        for (int load : kLoads) {
          const std::string bench = "BM_SimScale/timeshare:" + std::to_string(timeshare) +
                                    "/cpus:" + std::to_string(cpus) + "/load:" + std::to_string(load);
          const auto p999 = evaluate(r, Metric{"simscale", bench, "p999_us"});
          if (!p999 || *p999 <= 0) continue;
          out << load << " " << *p999 << "\n";
          ++points;
        }
        const int c = color++;
        if (points == 0) continue;
        curves.push_back(
            {dat, std::string(policy) + ", " + std::to_string(cpus) + " CPUs",
             std::string("lw 2 pt 7 ps 1.2 lc rgb '") + kColors[c] + "' dt " + (timeshare != 0 ? "2" : "1"),
             "linespoints", ""});
      }
    }
    const std::string png = out_dir + "/simscale-p999.png";
    if (curves.empty()) {
      skipped.push_back(png + " (no simscale results in " + r.dir + "/simscale.json)");
    } else {
      gp += picture(png, "Simulator: p999 latency against load, dedicated cores (solid) and timeshare (dashed)") +
            "set logscale y 10\nset xrange [25:95]\nset xtics 30,20,90\nset format x '%g%%'\n"
            "set xlabel 'offered load'\nset ylabel 'p999 latency (virtual time)'\n"
            "set grid xtics ytics mytics lc rgb '#c8c8c8'\nset key left top\n";
      gp += log_time_tics("y");
      gp += plot_command(curves);
      drawn.push_back(png);
    }
  }

  for (const std::string& s : skipped) gp += "# not drawn: " + s + "\n";
  std::ofstream(work_dir + "/bench.gp") << gp;
  for (const std::string& s : skipped) std::cerr << "bench-plot: not drawn, no data: " << s << "\n";
  return drawn;
}

}  // namespace platypos::benchreport
