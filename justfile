# PlatypOS tasks. `just --list` shows them; README.md explains them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes
default:
    @just --list --unsorted

# Build every tree: hosted (build/hosted), bare-metal kernel (build/baremetal), libFuzzer targets (build/fuzz)
build:
    @just _build hosted
    @just _build baremetal
    @just _build fuzz

# Build both trees, then run every test (unit, link checks, ...) through ctest
test: build
    ctest --preset hosted

# Run the simulator's default scenario (or any: just sim --scenario NAME ...; see just sim --help)
[positional-arguments]
sim *args:
    @[ -f build/hosted/CMakeCache.txt ] || cmake --preset hosted
    @cmake --build --preset hosted --target platypos-sim
    @build/hosted/sim/platypos-sim "$@"

# Serve memcached's text protocol from kv-server, a PlatypOS process on the hosted backend (threads mode, a real socket) until Ctrl-C: just serve [--listen IPV4:PORT] [--kv-memory BYTES]
[positional-arguments]
serve *args:
    @[ -f build/hosted/CMakeCache.txt ] || cmake --preset hosted
    @cmake --build --preset hosted --target platypos-sim
    @build/hosted/sim/platypos-sim --scenario kv --mode threads "$@"

# Serve the files beneath a directory over HTTP/1.1 with file-server, on the hosted backend (default: . on 127.0.0.1:8080; e.g. just serve-files --root www --listen 127.0.0.1:8000); Ctrl-C stops it
[positional-arguments]
serve-files *args:
    @[ -f build/hosted/CMakeCache.txt ] || cmake --preset hosted
    @cmake --build --preset hosted --target platypos-sim
    @build/hosted/sim/platypos-sim --scenario files --mode threads "$@"

# Run the simulator under gdb, with the PlatypOS commands (platypos-cpus, platypos-tasks, platypos-sim)
[positional-arguments]
sim-debug *args:
    @[ -f build/hosted/CMakeCache.txt ] || cmake --preset hosted
    @cmake --build --preset hosted --target platypos-sim
    gdb -q -x tools/gdb/platypos.py -x tools/gdb/sim.gdbinit --args build/hosted/sim/platypos-sim "$@"

# Build and test the hosted tree under AddressSanitizer + UndefinedBehaviorSanitizer (no benchmarks; the QEMU, baremetal and fuzz tests are `just test`'s: the kernel is not built with ASan)
test-asan:
    cmake --preset hosted-asan >/dev/null
    cmake --build --preset hosted-asan
    ctest --preset hosted-asan

# Build the hosted tree under ThreadSanitizer (clang; task contexts are TSan fibers) and run its threads-mode tests
test-tsan:
    cmake --preset hosted-tsan >/dev/null
    cmake --build --preset hosted-tsan
    ctest --preset hosted-tsan

# The long budgets (CI runs this after `just test`): ASan+UBSan, TSan, every fuzzer for FUZZ_SECONDS, schedule exploration, SEEDS seeds of fault-injection exploration of the default scenario (its echo run shortened to 300 requests to fit CI), then SEEDS seeds of the hostile scenario (500 round trips each), then 200 seeds of kv-server on the modelled network with resetting clients
test-all fuzz_seconds="60" seeds="2000":
    time just test-asan
    time just test-tsan
    time just fuzz {{fuzz_seconds}}
    time just loom
    time just explore {{seeds}} --program-args 'echo_count=300'
    time just explore {{seeds}} --scenario hostile --program-args 'count=500'
    time just explore 200 --scenario kv --mode sim --duration 20ms --kv-resets 5000

# Run every libFuzzer target (tests/fuzz/*_fuzzer.cpp) for SECONDS each, keeping a corpus in build/fuzz/corpus/
fuzz seconds="60":
    @just _build fuzz
    for src in tests/fuzz/*_fuzzer.cpp; do \
      f=$(basename "$src" _fuzzer.cpp); \
      mkdir -p build/fuzz/corpus/$f; \
      tools/run_fuzzer.sh build/fuzz $f {{seconds}} build/fuzz/corpus/$f; \
    done

# Run every benchmark suite (hosted-release build; a few minutes, with progress): results/*.json, *.md with the ratios to each baseline, summary.md; FILTER is a Google Benchmark regex
bench filter=".":
    @just _build hosted-release
    @tools/bench_report/run_suites.sh build/hosted-release results '{{filter}}'

# kv-server on PlatypOS (hosted, one app core) against memcached -t 1 from Debian: the same open-loop load (bench/kv_load.cpp) at each offered rate, alone and beside a CPU hog, into results/kv.json; then `just bench-report` puts the table in docs/benchmarks.md and the README (about 4 min with the defaults)
bench-kv rates="10000,20000,40000,60000,80000,100000,120000,150000,200000,250000" seconds="5":
    @[ -f build/hosted-release/CMakeCache.txt ] || cmake --preset hosted-release
    cmake --build --preset hosted-release --target platypos-sim platypos-kv-load
    bench/kv_bench.sh build/hosted-release results {{rates}} {{seconds}}

# Rewrite the README's performance tables (between its <!-- bench:ID:begin/end --> markers) and results/summary.md from results/
bench-report: _bench_report_tool
    build/hosted-release/tools/bench_report/platypos-bench-report --results results summary
    build/hosted-release/tools/bench_report/platypos-bench-report --results results readme --readme docs/benchmarks.md
    build/hosted-release/tools/bench_report/platypos-bench-report --results results readme --readme README.md --blocks kv

# Draw docs/bench/*.png from results/ with gnuplot: latency CDFs (PlatypOS against Linux per load), throughput against p99, the simulator's p999
bench-plot: _bench_report_tool
    build/hosted-release/tools/bench_report/platypos-bench-report --results results plot --work build/bench-plot --out docs/bench
    gnuplot build/bench-plot/bench.gp

# Decode a trace (platypos-sim --trace FILE, just run --trace FILE): just trace FILE [--format perfetto -o out.json]
[positional-arguments]
trace *args:
    @[ -f build/hosted/CMakeCache.txt ] || cmake --preset hosted
    @cmake --build --preset hosted --target platypos-trace
    @build/hosted/tools/trace/platypos-trace "$@"

# Render a 1 ms window of a simulator trace as a per-CPU timeline PNG with gnuplot (the README's picture)
trace-picture out="docs/sim-trace.png" from="20ms" to="21ms":
    @[ -f build/hosted/CMakeCache.txt ] || cmake --preset hosted
    @cmake --build --preset hosted --target platypos-sim platypos-trace
    build/hosted/sim/platypos-sim --scenario server --duration 30ms --trace build/sim-trace.trace >/dev/null
    build/hosted/tools/trace/platypos-trace build/sim-trace.trace --format gnuplot --from {{from}} --to {{to}} \
      --png {{out}} -o build/sim-trace.gp
    gnuplot build/sim-trace.gp
    @echo "wrote {{out}}"

# Boot the kernel in QEMU, serial console here. No flags: the default example programs (echo, log shipping) as processes on 4 CPUs; or just run --example NAME (echo, logship, objstore, demo; ring-3 tests faults, isolation, bench) [--cpus N] [--memory SIZE] [--append 'ktest'] [--trace FILE]
[positional-arguments]
run *args: (_build "baremetal") _runner
    if [ $# -eq 0 ]; then set -- --example default; fi; \
    build/hosted/tools/qemu/platypos_qemu "$@" build/baremetal/platypos.elf

# Start the kernel halted in QEMU and attach gdb (tools/gdb/gdbinit); same flags as `run`
[positional-arguments]
debug *args: (_build "baremetal") _runner
    build/hosted/tools/qemu/platypos_qemu --debug "$@" build/baremetal/platypos.elf

# Reformat every C++ source with .clang-format
fmt:
    git ls-files '*.cpp' '*.hpp' '*.h' | xargs clang-format -i

# Check formatting (changes nothing) and run clang-tidy on core/ (.clang-tidy)
lint:
    git ls-files '*.cpp' '*.hpp' '*.h' | xargs clang-format --dry-run --Werror
    @just _build hosted
    git ls-files 'core/src/*.cpp' | xargs clang-tidy -p build/hosted --quiet
    @echo "lint: clean"

# Remove every build folder
clean:
    rm -rf build

# Configure a preset's build folder if needed, then build it
_build preset:
    @[ -f build/{{preset}}/CMakeCache.txt ] || cmake --preset {{preset}}
    cmake --build --preset {{preset}}

# Build platypos-bench-report (hosted-release tree) only
_bench_report_tool:
    @[ -f build/hosted-release/CMakeCache.txt ] || cmake --preset hosted-release
    @cmake --build --preset hosted-release --target platypos-bench-report

# Build the QEMU runner (hosted tree) only
_runner:
    @[ -f build/hosted/CMakeCache.txt ] || cmake --preset hosted
    @cmake --build --preset hosted --target platypos_qemu

# Schedule exploration (tests/loom, docs/loom.md): every loom test under random, PCT and bounded-exhaustive schedules, then the schedules each planted bug takes to find (median of 20 base seeds); flags go to platypos-loom (--test, --strategy, --budget, --list)
[positional-arguments]
loom *args:
    @[ -f build/hosted/CMakeCache.txt ] || cmake --preset hosted
    @cmake --build --preset hosted --target platypos-loom
    @if [ $# -gt 0 ]; then build/hosted/tests/loom/platypos-loom "$@"; else \
      build/hosted/tests/loom/platypos-loom --budget 200000 --dfs-budget 20000 && \
      build/hosted/tests/loom/platypos-loom --bench 20 --budget 100000; fi

# Fault-injection exploration: N seeds (default 2000) of the default scenario under platypos-sim --faults, one child process each, all host CPUs; stops at the first failure and prints its replay command. Extra flags go to platypos-sim (--keep-going, --jobs, --seed FIRST, --program-args ...)
[positional-arguments]
explore n="2000" *args:
    @[ -f build/hosted/CMakeCache.txt ] || cmake --preset hosted
    @cmake --build --preset hosted --target platypos-sim
    shift; build/hosted/sim/platypos-sim --explore '{{n}}' "$@"

# Replay one loom schedule under gdb, stopping at the failure: just loom-debug TEST SEED [--strategy pct ... | --strategy replay --schedule S], as a failure prints it
[positional-arguments]
loom-debug test seed *args:
    @[ -f build/hosted/CMakeCache.txt ] || cmake --preset hosted
    @cmake --build --preset hosted --target platypos-loom
    shift 2; case " $* " in *" --strategy "*) ;; *) set -- --strategy random "$@" ;; esac; \
      gdb -q -ex 'break platypos::loom::on_failure' -ex run --args \
      build/hosted/tests/loom/platypos-loom --test '{{test}}' --seed '{{seed}}' --budget 1 "$@"
