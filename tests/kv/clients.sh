#!/usr/bin/env bash
# kv-server against real memcached clients: starts `platypos-sim --scenario kv` (threads mode, a real socket), runs
# libmemcached's protocol conformance test (memccapable -a, ASCII), memccp/memccat, pymemcache and nc against it,
# then stops it with SIGINT and checks that it shut down cleanly (every page back, no socket left).
#   tests/kv/clients.sh PLATYPOS_SIM [SCENARIO FLAGS...]   (e.g. --server-cores 2)
set -euo pipefail
sim=$1
shift
for tool in memccapable memccp memccat nc; do
  command -v "$tool" >/dev/null || { echo "clients.sh: $tool missing (./setup.sh installs it)"; exit 1; }
done
port=$((20000 + ($$ + 31 * $#) % 20000))
work=$(mktemp -d)
trap 'kill -INT $pid 2>/dev/null || true; rm -rf "$work"' EXIT
"$sim" --scenario kv --mode threads --listen 127.0.0.1:$port "$@" >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do grep -q "kv-server: listening" "$work/err" && break; sleep 0.1; done
grep -q "kv-server: listening" "$work/err" || { echo "kv-server did not start:"; cat "$work/err"; exit 1; }

fail() { echo "FAIL: $*"; cat "$work/err" | tail -20; exit 1; }
memccapable -a -h 127.0.0.1 -p $port -t 2 >"$work/capable" 2>&1 || fail "memccapable -a: $(grep FAIL "$work/capable")"
grep -q "All tests passed" "$work/capable" || fail "memccapable -a did not pass"
echo "memccapable -a: all ASCII tests passed"

got=$(printf 'set k 0 0 1\r\nv\r\nget k\r\n' | nc -q 1 127.0.0.1 $port | tr -d '\r')
[[ $got == $'STORED\nVALUE k 0 1\nv\nEND' ]] || fail "nc: got '$got'"
echo "nc: set/get"

printf 'a file for memccp\n' >"$work/f.txt"
(cd "$work" && memccp --servers=127.0.0.1:$port f.txt) || fail "memccp"
[[ $(memccat --servers=127.0.0.1:$port f.txt) == "a file for memccp" ]] || fail "memccat"
echo "memccp/memccat: round trip"

# One item, many connections (on a server with several cores, they land on different cores: one store).
printf 'set shared 5 0 3\r\nabc\r\n' | nc -q 1 127.0.0.1 $port >/dev/null
for i in $(seq 16); do
  got=$(printf 'get shared\r\n' | nc -q 1 127.0.0.1 $port | tr -d '\r')
  [[ $got == $'VALUE shared 5 3\nabc\nEND' ]] || fail "connection $i: got '$got'"
done
echo "nc: an item set on one connection read on 16 others"
if [[ " $* " == *" --server-cores 2 "* ]]; then
  per_core=$(printf 'stats\r\n' | nc -q 1 127.0.0.1 $port | tr -d '\r' | grep total_connections_core_)
  for core in 0 1; do
    n=$(awk -v k="STAT total_connections_core_$core" 'index($0, k " ") == 1 { print $3 }' <<<"$per_core")
    (( ${n:-0} > 0 )) || fail "core $core served no connection: $per_core"
  done
  echo "two cores: both served connections ($(echo $per_core | tr '\n' ' '))"
fi

if /usr/bin/python3 -c 'import pymemcache' 2>/dev/null; then
  /usr/bin/python3 - "$port" <<'PY' || fail "pymemcache"
import sys
from pymemcache.client.base import Client
c = Client(("127.0.0.1", int(sys.argv[1])), default_noreply=False)
assert c.set("py", "thon") and c.get("py") == b"thon"
assert c.add("py", "x") is False
value, cas = c.gets("py")
assert value == b"thon" and c.cas("py", "new", cas) and c.cas("py", "newer", cas) is False
c.set("n", "10")
assert c.incr("n", 5) == 15 and c.decr("n", 100) == 0
assert c.delete("py") and c.get("py") is None
assert c.get_many(["n", "none"]) == {"n": b"0"}
big = bytes(range(256)) * 3900  # 998,400 bytes: near memcached's 1 MiB item limit
assert c.set("big", big) and c.get("big") == big
try:
    c.set("huge", b"x" * (2 << 20))
    raise AssertionError("a 2 MiB item was stored")
except Exception as e:
    assert "too large" in str(e), e
assert c.get("big") == big  # the refused item's data was skipped: the connection goes on
print("pymemcache: set/add/gets/cas/incr/decr/delete/get_many, a 1 MB item, a 2 MiB one refused")
PY
else
  fail "pymemcache missing (./setup.sh installs python3-pymemcache)"
fi

# Garbage gets a clear answer, and the connection goes on.
got=$(printf 'bogus\r\nget %0300d\r\nset k 0 0 -1\r\nset k 0 0 3\r\nabcde\r\nversion\r\n' 0 | nc -q 1 127.0.0.1 $port | tr -d '\r')
[[ $got == *$'ERROR\nCLIENT_ERROR bad command line format\nCLIENT_ERROR bad command line format\nCLIENT_ERROR bad data chunk'* &&
   $got == *"VERSION "* ]] || fail "bad input: got '$got'"
echo "bad input: answered, connection kept"

kill -INT $pid
wait $pid || fail "kv scenario exited with $?"
grep -q "every page returned" "$work/out" || fail "not a clean shutdown: $(tail -5 "$work/out")"
echo "shutdown on SIGINT: every page returned, no kernel object left"
