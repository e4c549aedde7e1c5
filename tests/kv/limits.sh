#!/usr/bin/env bash
# kv-server under bad and heavy clients (tests/kv/limits.py): 10,000 connections at once and one over the limit, a
# client gone mid-value, a slow reader; then a clean SIGINT shutdown.
#   tests/kv/limits.sh PLATYPOS_SIM
set -euo pipefail
sim=$1
connections=10000
# Both ends of 10,000 connections are descriptors of this machine: raise the limit (root may raise the hard one too),
# else take what the hard limit allows.
ulimit -n 32768 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if (( $(ulimit -n) < connections + 512 )); then
  echo "limits.sh: the descriptor limit ($(ulimit -n)) is below $((connections + 512)), and cannot be raised here:"
  echo "  run as root, or raise the hard limit (ulimit -Hn) for this test"
  exit 1
fi
port=$((20000 + ($$ + 104729) % 20000))
work=$(mktemp -d)
trap 'kill -INT $pid 2>/dev/null || true; rm -rf "$work"' EXIT
"$sim" --scenario kv --mode threads --listen 127.0.0.1:$port --connections $connections >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do grep -q "kv-server: listening" "$work/err" && break; sleep 0.1; done
grep -q "kv-server: listening" "$work/err" || { echo "kv-server did not start:"; cat "$work/err"; exit 1; }
/usr/bin/python3 "$(dirname "$0")/limits.py" $port $connections || { tail -20 "$work/err"; exit 1; }
kill -INT $pid
wait $pid || { echo "FAIL: kv scenario exited with $?"; tail -20 "$work/out"; exit 1; }
grep -q "every page returned" "$work/out" || { echo "FAIL: not a clean shutdown"; tail -5 "$work/out"; exit 1; }
echo "shutdown on SIGINT: every page returned, no kernel object left"
