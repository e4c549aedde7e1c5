#!/usr/bin/env bash
# shellcheck disable=SC2016 # the expected Markdown has literal backticks, not expansions
# platypos-bench-report on the fixture in tests/fixtures/bench (results of a few suites, some missing, and a README with
# every block's markers), one aspect per mode:
#   readme     the blocks are rewritten from the results, the prose around them kept; a second run changes nothing;
#              --check agrees, and disagrees once the results change
#   not_run    suites and benchmarks without results say "not run", targets too; no results at all still renders
#   malformed  a file that is not Google Benchmark JSON: exit 1, a message naming it, the README untouched
#   no_marker  a README without a block's markers, with an unknown block, or with a block never closed: exit 1
#   summary    results/summary.md and results/machine.txt
#   plot       bench.gp draws the PNGs with gnuplot (exit 77, ctest's skip, without gnuplot)
#   test_bench_report.sh TOOL FIXTURE_DIR MODE [GNUPLOT]
set -euo pipefail
tool=$1 fixture=$2 mode=$3 gnuplot=${4:-gnuplot}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$fixture/results" "$tmp/results"
cp "$fixture/README.md" "$tmp/README.md"
cd "$tmp"

fail() {
  echo "FAIL: $*"
  exit 1
}
has() { grep -qF -- "$1" "$2" || fail "$2 lacks: $1"; }
lacks() { ! grep -qF -- "$1" "$2" || fail "$2 has: $1"; }
# The README without the generated blocks: what must never change.
prose() { sed '/<!-- bench:[a-z]*:begin/,/<!-- bench:[a-z]*:end -->/d' "$1"; }

case $mode in
  readme)
    prose README.md >prose.before
    "$tool" readme --readme README.md
    prose README.md >prose.after
    cmp -s prose.before prose.after || { diff prose.before prose.after; fail "prose outside the markers changed"; }
    has '| buddy order-0 alloc+free, steady state | 17.0 ns | ≤ 25 ns: met | 0.48× malloc/free 4 KiB (35.2 ns) |' README.md
    has '| slab 64 B alloc+free (one cache, unlocked) | 10.1 ns | ≤ 10 ns: **missed** by 1% |' README.md
    has '| NOP round trip through the ring | 2.88 us | ≤ 1/3 getppid: **missed**' README.md
    has '*Run 2026-12-03 by `just bench`: `build/hosted-release/bench/platypos_bench_mm --benchmark_out=results/mm.json' README.md
    has 'AMD EPYC, 2 cores at 2.1 GHz (virtualized), 23.5 GiB, Linux 6.1.0-test, Debian GNU/Linux 12 (bookworm), g++ 12.2.0 -O2 -g' README.md
    has '| no | 70% | 14.0 k | 61.0 / 95.0 / 140 / 180 us | 63.0 / 120 / 310 / 420 us | 14.0 k / 14.0 k | 2.21× |' README.md
    has '| Linux p999 ÷ PlatypOS p999, 70% load, with the neighbour | 12.3× | ≥ 10×: met |' README.md
    has '| PlatypOS p999 ÷ p50, 70% load, with the neighbour | 3.9 | ≤ 3: **missed** by 30% |' README.md
    has 'The last `just bench` took 3 min 04 s (mm 19 s, ring 2 min 08 s, serve 37 s).' README.md
    cp README.md once.md
    "$tool" readme --readme README.md | grep -q "already up to date" || fail "the second run did not say 'already up to date'"
    cmp -s once.md README.md || { diff once.md README.md; fail "a second run changed the README"; }
    "$tool" readme --readme README.md --check || fail "--check disagrees right after a rewrite"
    rm results/mm.json
    if "$tool" readme --readme README.md --check; then fail "--check agrees although results/mm.json is gone"; fi
    cmp -s once.md README.md || fail "--check changed the README"
    echo "OK: blocks rewritten, prose kept, idempotent, --check"
    ;;
  not_run)
    "$tool" readme --readme README.md
    # Suites without a JSON file.
    has '| channel round trip, 64 B, two tasks on one core | not run | ≤ 150 ns: not run | Linux pipe round trip: not run |' README.md
    has '*Not run yet: `just bench` runs `build/hosted-release/bench/platypos_bench_cap` (no results/cap.json).*' README.md
    has '| one trace event (timestamp + 3 args into the per-CPU buffer) | not run | ≤ 15 ns: not run |' README.md
    has '| sim (virtual time), churn | not run | not run | not run | not run | not run |' README.md
    has '| p99.9 with churn ÷ without, sim | not run |' README.md
    has 'Not run yet: sched, cap, trace, teardown, kv.' README.md
    has '*No kv results yet: `just bench-kv` writes results/kv.json.*' README.md
    has '*Not run yet: `just bench-kv` writes it (no results/kv.json).*' README.md
    # --blocks: a file with some blocks only (the top-level README has the kv table alone).
    printf 'intro\n<!-- bench:kv:begin -->\nold\n<!-- bench:kv:end -->\noutro\n' >some.md
    if "$tool" readme --readme some.md 2>err.txt; then fail "exit status 0 for a file without every block"; fi
    "$tool" readme --readme some.md --blocks kv
    has 'No kv results yet' some.md
    lacks 'old' some.md
    if "$tool" readme --readme some.md --blocks ring 2>err.txt; then fail "exit status 0 with a block not asked for"; fi
    has "block 'kv' is not among the blocks asked for" err.txt
    # Benchmarks missing from a suite that ran (the fixture's simscale has the dedicated runs only), or that failed.
    has '| timeshare, 16 | not run | not run | not run | not run | not run |' README.md
    has '| dedicated, 64 | 20.0 / 26.0 / 30.0 us |' README.md
    has '| timeshare p999 ÷ dedicated p999, 90% load, 64 CPUs | not run |' README.md
    has '| flatness: dedicated p999 at 90% ÷ at 30% load, 64 CPUs | 1.17× | ≤ 1.2×: met |' README.md
    has '| yes | 90% | 16.2 k | failed (the server fell behind) |' README.md
    # No results at all.
    rm -rf results/*
    "$tool" readme --readme README.md
    has 'No benchmark results yet' README.md
    lacks ' ns |' README.md
    echo "OK: missing results say 'not run'"
    ;;
  malformed)
    cp README.md before.md
    printf '{"context": {}, "benchmarks": [ {"name": "BM_X", ' >results/cap.json
    if "$tool" readme --readme README.md 2>err.txt; then fail "exit status 0 on a truncated JSON file"; fi
    cat err.txt
    has 'results/cap.json: not valid JSON' err.txt
    cmp -s before.md README.md || fail "the README changed although the results are broken"
    echo '{"context": {}, "runs": []}' >results/cap.json
    if "$tool" readme --readme README.md 2>err.txt; then fail "exit status 0 on JSON without benchmarks"; fi
    has 'results/cap.json: not Google Benchmark JSON output (no "benchmarks" array)' err.txt
    echo '{"benchmarks": [{"name": "BM_X", "run_type": "iteration", "real_time": 1, "cpu_time": 1, "time_unit": "fortnights"}]}' >results/cap.json
    if "$tool" readme --readme README.md 2>err.txt; then fail "exit status 0 on an unknown time unit"; fi
    has 'unknown time_unit "fortnights"' err.txt
    : >results/cap.json
    if "$tool" summary 2>err.txt; then fail "exit status 0 on an empty JSON file"; fi
    has 'results/cap.json: empty' err.txt
    cmp -s before.md README.md || fail "the README changed"
    echo "OK: broken results are refused with a message naming the file"
    ;;
  no_marker)
    cp README.md original.md
    grep -v 'bench:ring:' original.md >README.md
    cp README.md before.md
    if "$tool" readme --readme README.md 2>err.txt; then fail "exit status 0 without the ring block's markers"; fi
    has 'README.md: no markers for block(s) ring' err.txt
    cmp -s before.md README.md || fail "the README changed"
    sed 's/bench:ring:/bench:rings:/' original.md >README.md
    if "$tool" readme --readme README.md 2>err.txt; then fail "exit status 0 with an unknown block"; fi
    has "unknown block 'rings'" err.txt
    grep -v 'bench:ring:end' original.md >README.md
    if "$tool" readme --readme README.md 2>err.txt; then fail "exit status 0 with a block never closed"; fi
    has "block 'teardown' begins inside block 'ring'" err.txt
    grep -v 'bench:ring:begin' original.md >README.md
    if "$tool" readme --readme README.md 2>err.txt; then fail "exit status 0 with an end marker alone"; fi
    has "end of block 'ring' without its begin marker" err.txt
    if "$tool" readme --readme nonexistent.md 2>err.txt; then fail "exit status 0 without a README"; fi
    has 'nonexistent.md: cannot read it' err.txt
    echo "OK: marker problems are refused"
    ;;
  summary)
    "$tool" summary
    has '# PlatypOS benchmark results' results/summary.md
    has 'Measured with `just bench` on AMD EPYC, 2 cores at 2.1 GHz (virtualized)' results/summary.md
    has '| mm | 2026-12-03 | 4 | 19.2 |' results/summary.md
    has '| sched | not run |' results/summary.md
    has '**Allocators** (`platypos_bench_mm`)' results/summary.md
    has '| buddy order-0 alloc+free (steady) / malloc 4 KiB | 0.483x (17.0 ns / 35.2 ns) |' results/summary.md
    has 'compiler: g++ 12.2.0 -O2 -g' results/machine.txt
    has 'cpu: AMD EPYC' results/machine.txt
    echo "OK: summary.md and machine.txt"
    ;;
  plot)
    command -v "$gnuplot" >/dev/null 2>&1 || { echo "SKIP: no gnuplot (Debian: gnuplot-nox)"; exit 77; }
    "$tool" plot --work work --out pictures | tee out.txt
    has 'draws 4 picture(s)' out.txt
    "$gnuplot" work/bench.gp
    for png in serve-cdf-noisy0 serve-cdf-noisy1 serve-throughput-p99 simscale-p999; do
      f=pictures/$png.png
      [[ -f $f ]] || fail "$f not drawn"
      [[ $(head -c 8 "$f" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "$f is not a PNG"
      size=$(wc -c <"$f")
      ((size > 10000)) || fail "$f: $size bytes is too small for a plot"
    done
    # A tail file: the share of requests at or above each latency, from 1 down to the slowest request's share.
    has '# from results/latency/BM_ServePlatypos_noisy_0_load_30_iterations_1_manual_time.cdf' \
      work/serve-cdf-noisy0-Platypos-load30.dat
    [[ $(sed -n 2p work/serve-cdf-noisy0-Platypos-load30.dat) == "52 1" ]] || fail "the tail does not start at 1"
    # Without serve results, the serve pictures are left out, and said so.
    rm results/serve.json results/latency/*
    "$tool" plot --work work2 --out pictures2 2>err.txt | tee out.txt
    has 'draws 1 picture(s)' out.txt
    has 'not drawn, no data: pictures2/serve-throughput-p99.png' err.txt
    "$gnuplot" work2/bench.gp
    [[ -f pictures2/simscale-p999.png && ! -e pictures2/serve-cdf-noisy0.png ]] || fail "wrong pictures without serve"
    echo "OK: pictures drawn"
    ;;
  *)
    echo "unknown mode $mode" >&2
    exit 2
    ;;
esac
