#!/usr/bin/env bash
# Runs one libFuzzer target of the fuzz build for a bounded time.
#
#   run_fuzzer.sh FUZZ_BUILD_DIR NAME SECONDS [extra libFuzzer flags...]
#
# NAME is a target of tests/fuzz (buddy, range_pool, ring, kv_protocol, http_request). With no corpus directory the run starts from scratch (fixed seed, so a CI run is
# repeatable up to timing); `just fuzz` keeps a corpus in build/fuzz/corpus/NAME. A crash makes this fail and leaves
# the input in crash-* (libFuzzer prints how to replay it).
set -euo pipefail
dir=$1 name=$2 seconds=$3
shift 3
bin=$dir/tests/fuzz/${name}_fuzzer
if [[ ! -x $bin ]]; then
  echo "no fuzzer $bin: build the fuzz tree first (just build)" >&2
  exit 1
fi
exec "$bin" -max_total_time="$seconds" -seed=1 -print_final_stats=1 -artifact_prefix="$dir/" "$@"
