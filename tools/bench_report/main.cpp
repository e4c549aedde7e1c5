// platypos-bench-report: from a `just bench` run (results/) to the README's performance tables, a summary and the
// data and script for the pictures. The tables' rows, targets and baselines are declared in spec.cpp.
//
//   platypos-bench-report summary                 results/summary.md and results/machine.txt
//   platypos-bench-report readme [--check]        rewrite docs/benchmarks.md's <!-- bench:ID:begin/end --> blocks in place
//   platypos-bench-report plot                    build/bench-plot/*.dat and bench.gp (gnuplot draws docs/bench/*.png)
//   --results DIR (default results), --readme FILE (default docs/benchmarks.md)
//
// Exit status: 0 done; 1 an error (a file that is not Google Benchmark JSON, a README without its markers, ...),
// with a message naming the file; with --check, 1 when the README is not what the results give; 2 bad usage.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "bench_report.hpp"

namespace {

using namespace platypos::benchreport;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot read it");
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// Writes through a temporary file and a rename, so a failure never leaves half a file.
void write_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << text;
    out.flush();
    if (!out) throw Error(tmp + ": cannot write it");
  }
  std::filesystem::rename(tmp, path);
}

void check_results_dir(const std::string& dir) {
  if (!std::filesystem::is_directory(dir)) {
    throw Error(dir + ": no such folder; `just bench` writes the results there");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"platypos-bench-report: the README's performance tables, a summary and the plots, from results/"};
  app.require_subcommand(1);
  std::string results = "results";
  app.add_option("--results", results, "the folder `just bench` wrote (default results)");

  auto* summary = app.add_subcommand("summary", "write RESULTS/summary.md and RESULTS/machine.txt");
  auto* readme = app.add_subcommand("readme", "regenerate the README's tables between their bench markers");
  std::string readme_path = "docs/benchmarks.md";
  bool check = false;
  readme->add_option("--readme", readme_path, "the Markdown file to rewrite (default docs/benchmarks.md)");
  readme->add_flag("--check", check, "change nothing; exit 1 if the file is not what the results give");
  std::vector<std::string> only_blocks;
  readme->add_option("--blocks", only_blocks,
                     "only these blocks (comma-separated), which the file must have; others are refused "
                     "(default: every block)")
      ->delimiter(',');
  auto* plot = app.add_subcommand("plot", "write gnuplot data and a script drawing the PNGs");
  std::string work = "build/bench-plot", out = "docs/bench";
  plot->add_option("--work", work, "where the data files and bench.gp go (default build/bench-plot)");
  plot->add_option("--out", out, "where gnuplot writes the PNGs (default docs/bench)");

  CLI11_PARSE(app, argc, argv);

  try {
    check_results_dir(results);
    const Results r = Results::load(results, suite_names());
    if (summary->parsed()) {
      write_file(results + "/summary.md", render_summary(r));
      write_file(results + "/machine.txt", render_machine_text(r));
      std::printf("bench-report: wrote %s/summary.md and %s/machine.txt\n", results.c_str(), results.c_str());
    } else if (readme->parsed()) {
      const std::string before = read_file(readme_path);
      const std::string after =
          rewrite_readme(before, readme_path, r, std::set<std::string>(only_blocks.begin(), only_blocks.end()));
      if (check) {
        if (before != after) {
          std::fprintf(stderr, "bench-report: %s is not what %s gives; run `just bench-report`\n", readme_path.c_str(),
                       results.c_str());
          return 1;
        }
        std::printf("bench-report: %s is up to date with %s\n", readme_path.c_str(), results.c_str());
      } else if (before == after) {
        std::printf("bench-report: %s already up to date with %s\n", readme_path.c_str(), results.c_str());
      } else {
        write_file(readme_path, after);
        std::printf("bench-report: regenerated the tables of %s from %s\n", readme_path.c_str(), results.c_str());
      }
    } else if (plot->parsed()) {
      const auto drawn = write_plots(r, work, out);
      std::printf("bench-report: %s/bench.gp draws %zu picture(s)%s\n", work.c_str(), drawn.size(),
                  drawn.empty() ? "" : ":");
      for (const std::string& png : drawn) std::printf("  %s\n", png.c_str());
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "bench-report: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench-report: %s\n", e.what());
    return 1;
  }
  return 0;
}
