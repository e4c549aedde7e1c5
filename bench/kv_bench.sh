#!/usr/bin/env bash
# `just bench-kv`: kv-server on PlatypOS (hosted, threads mode) against memcached from Debian, the same open-loop load
# (bench/kv_load.cpp: Poisson arrivals, latency from each request's intended send time, timeouts as infinitely
# slow) at the same offered rates, without and with a CPU-hog neighbour (one busy loop per host CPU). PlatypOS gets
# one app core (and one kernel core: its ring server, which polls); memcached gets as many worker threads (-t 1), and,
# since PlatypOS's kernel core is a second busy thread, memcached -t 2 runs too (the same host cores in use).
# Writes RESULTS/kv.json (Google Benchmark-shaped: platypos-bench-report renders it into docs/benchmarks.md and the
# README) and prints each run's table.
#   kv_bench.sh BUILD_DIR RESULTS_DIR [RATES] [SECONDS]
set -euo pipefail
build=$1 results=$2
rates=${3:-10000,20000,40000,60000,80000,100000,120000,150000,200000,250000}
seconds=${4:-5}
sim=$build/sim/platypos-sim
load=$build/bench/platypos-kv-load
for f in "$sim" "$load"; do [[ -x $f ]] || { echo "kv_bench.sh: $f is not built"; exit 1; }; done
command -v memcached >/dev/null || { echo "kv_bench.sh: memcached missing (./setup.sh installs it)"; exit 1; }
mkdir -p "$results"
work=$(mktemp -d)
server_pid="" hogs=()
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
  ((${#hogs[@]} == 0)) || kill "${hogs[@]}" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port=$((21000 + $$ % 5000))

wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "kv_bench.sh: nothing listens on port $1"; tail -5 "$work/server.log"; exit 1
}

start_server() {  # platypos | memcached | memcached2
  port=$((port + 1))
  if [[ $1 == platypos ]]; then
    "$sim" --scenario kv --mode threads --cpus 2 --kernel-cores 1 --kv-memory $((128 << 20)) \
      --listen 127.0.0.1:$port >"$work/server.log" 2>&1 &
  else
    user=(); [[ $(id -u) == 0 ]] && user=(-u nobody)
    threads=1; [[ $1 == memcached2 ]] && threads=2
    memcached "${user[@]}" -t $threads -m 100 -c 4096 -U 0 -l 127.0.0.1 -p $port >"$work/server.log" 2>&1 &
  fi
  server_pid=$!
  wait_port $port
}

stop_server() {
  kill -INT "$server_pid"
  wait "$server_pid" || true
  server_pid=""
}

for hog in 0 1; do
  if ((hog == 1)); then
    for _ in $(seq "$(nproc)"); do (while :; do :; done) & hogs+=($!); done
    echo "== with a CPU-hog neighbour: $(nproc) busy loops"
  else
    echo "== alone"
  fi
  for system in platypos memcached memcached2; do
    case $system in platypos) name=Platypos ;; memcached) name=Memcached ;; *) name=Memcached2 ;; esac
    start_server $system
    echo "-- $system on 127.0.0.1:$port"
    "$load" --server 127.0.0.1:$port --rates "$rates" --duration "$seconds" --warmup 1 --connections 32 \
      --get-ratio 0.9 --keys 10000 --value-size 100 --timeout 1 --seed 1 \
      --name "BM_Kv$name/hog:$hog" --command "just bench-kv" --json "$work/$system-$hog.json"
    stop_server
  done
  if ((hog == 1)); then kill "${hogs[@]}" 2>/dev/null || true; wait "${hogs[@]}" 2>/dev/null || true; hogs=(); fi
done

# One file: the first run's context, every run's entries.
/usr/bin/python3 - "$results/kv.json" "$work"/{platypos,memcached,memcached2}-0.json \
  "$work"/{platypos,memcached,memcached2}-1.json <<'PY'
import json, sys
out, files = sys.argv[1], sys.argv[2:]
runs = [json.load(open(f)) for f in files]
merged = {"context": runs[0]["context"], "benchmarks": [b for r in runs for b in r["benchmarks"]]}
json.dump(merged, open(out, "w"), indent=1)
PY
echo "kv_bench.sh: wrote $results/kv.json ($(date -u +%FT%TZ)); just bench-report renders it"
