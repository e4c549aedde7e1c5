#!/usr/bin/env bash
# `just bench [FILTER]`: runs every benchmark program of the hosted-release tree in order, into results/:
#   results/<suite>.json      Google Benchmark JSON (its context names the command, machine and compiler)
#   results/<suite>.md        the suite's own summary: every result, then the side-by-side ratios to its baselines
#   results/latency/*.cdf     latency distributions of the latency benchmarks (bench_main.hpp: report_latency)
#   results/timings.txt       seconds per suite (full runs only)
#   results/summary.md, results/machine.txt   every table of the README with the machine (platypos-bench-report)
# A line "[k/8] suite: ..." starts each suite; Google Benchmark's lines, prefixed "(i/N)", follow each benchmark, and
# a benchmark that runs long says so every 20 s. With a FILTER (a Google Benchmark regex), only the suites with a
# matching benchmark run, and only their JSON is replaced.
#   run_suites.sh BUILD_DIR RESULTS_DIR [FILTER]
set -euo pipefail
build=$1 results=$2 filter=${3:-.}

suites=(mm sched cap trace ring teardown serve simscale)
# Per-suite flags. The README's tables say "median of N repetitions" where these ask for them.
declare -A extra=(
  [ring]="--benchmark_repetitions=7 --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true"
  [trace]="--benchmark_repetitions=3"
)

mkdir -p "$results/latency"
n=${#suites[@]}
failed=() skipped=() timings=""
run_start=$(date +%s.%N)
for i in "${!suites[@]}"; do
  s=${suites[$i]} k=$((i + 1))
  bin=$build/bench/platypos_bench_$s
  if [[ ! -x $bin ]]; then
    echo "[$k/$n] $s: $bin is not built (no such target?), skipped"
    skipped+=("$s")
    continue
  fi
  count=$("$bin" --benchmark_list_tests --benchmark_filter="$filter" 2>/dev/null | grep -c . || true)
  if ((count == 0)); then
    echo "[$k/$n] $s: no benchmark matches '$filter', skipped ($results/$s.json kept)"
    continue
  fi
  cmd=("$bin")
  [[ $filter == . ]] || cmd+=("--benchmark_filter=$filter")
  # shellcheck disable=SC2206 # the per-suite flags are words
  cmd+=(${extra[$s]:-} "--benchmark_out=$results/$s.json" --benchmark_out_format=json
    "--platypos_summary=$results/$s.md" "--platypos_results=$results")
  echo
  echo "[$k/$n] $s: $count benchmark(s): ${cmd[*]}"
  start=$(date +%s.%N)
  status=0
  "${cmd[@]}" || status=$?
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  if ((status != 0)); then
    echo "[$k/$n] $s: FAILED (exit status $status) after $secs s"
    failed+=("$s")
  else
    echo "[$k/$n] $s: done in $secs s"
    timings+="$s $secs"$'\n'
  fi
done
total=$(awk -v a="$run_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')

# Timings describe a whole run; a filtered one keeps the last whole run's.
if [[ $filter == . ]]; then
  # shellcheck disable=SC2016 # literal backticks
  printf '# seconds per suite, last whole `just bench` (%s)\n%s' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$timings" \
    >"$results/timings.txt"
fi
echo
"$build/tools/bench_report/platypos-bench-report" --results "$results" summary
echo "bench: $((total / 60)) min $((total % 60)) s in all; timings:"
printf '%s' "$timings" | awk '{ printf "  %-9s %7.1f s\n", $1, $2 }'
((${#skipped[@]} == 0)) || echo "bench: not built, skipped: ${skipped[*]}"
if ((${#failed[@]} != 0)); then
  echo "bench: FAILED: ${failed[*]}"
  exit 1
fi
echo "bench: next, \`just bench-report\` puts the tables into docs/benchmarks.md and \`just bench-plot\` draws docs/bench/*.png"
