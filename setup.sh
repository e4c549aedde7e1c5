#!/usr/bin/env bash
# PlatypOS setup: installs what building, testing, benchmarking and debugging need on Debian 12.
#
# Idempotent: it asks dpkg which packages are missing and installs only those (one apt-get call), then installs
# `just` from npm if it is not on PATH. With everything present it only checks, in well under a second.
# Run it as root (or with sudo available). It says what it installs.
set -euo pipefail

# Debian package -> why we need it. Keep this list in step with the README's "Requirements" section.
packages=(
  build-essential     # g++ 12, make, binutils (addr2line, nm, objdump for the link check and symbolizer)
  cmake               # build system (3.25 in Debian 12)
  ninja-build         # generator used by every preset
  pkg-config          # finds liburing
  python3             # tools/layercheck.py (the include-order check in just test)
  libboost-context-dev  # fibers: task contexts in the hosted backend
  liburing-dev        # io_uring: devices in the hosted backend
  libspdlog-dev       # human-readable logs in the hosted backend
  libcli11-dev        # platypos-sim's command-line parser
  libgtest-dev        # unit tests
  libgmock-dev        # unit tests (matchers)
  libbenchmark-dev    # bench/
  nlohmann-json3-dev  # the trace tests validate Chrome trace JSON; platypos-bench-report reads benchmark JSON
  gnuplot-nox         # just trace-picture, just bench-plot: the README's pictures
  qemu-system-x86     # boots the bare-metal kernel
  gdb                 # just debug, the gdb tests
  clang               # libFuzzer targets (fuzz preset)
  libclang-rt-14-dev  # clang's sanitizer and fuzzer runtimes
  clang-format        # just fmt / just lint
  clang-tidy          # just lint
  libmemcached-tools  # memccapable, memccp, memccat, memcslap: memcached clients the kv-server tests use
  python3-pymemcache  # a second memcached client (Python), in the kv-server tests
  netcat-openbsd      # nc: the line `just serve` prints for a first try
  memcached           # the peer `just bench-kv` measures kv-server against
  curl                # an HTTP client of the file-server tests
  wrk                 # an HTTP load generator the file-server tests run (keep-alive, many connections)
)

missing=()
# `just` comes from npm. Machines that already have Node.js from elsewhere (nodesource) must not get Debian's npm,
# which conflicts with it, so npm is only asked for when there is no npm at all.
if ! command -v just >/dev/null 2>&1 && ! command -v npm >/dev/null 2>&1; then
  packages+=(npm)
fi
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The package lists of a fresh machine may be stale or empty; refresh them once before installing.
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v just >/dev/null 2>&1; then
  echo "setup: installing just (npm install -g rust-just)"
  as_root npm install -g --silent rust-just >/dev/null
  hash -r
  command -v just >/dev/null 2>&1 || {
    echo "setup: 'just' was installed but is not on PATH; add \$(npm prefix -g)/bin to PATH" >&2
    exit 1
  }
fi

if ((${#missing[@]} == 0)); then
  echo "setup: all dependencies present"
else
  echo "setup: done"
fi
