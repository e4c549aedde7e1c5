#!/usr/bin/env bash
# file-server against real HTTP clients: starts `platypos-sim --scenario files` (threads mode, a real socket) on a
# fresh directory, then curl (GET, HEAD, keep-alive, ranges of bad input, a 5 MB file byte for byte) and wrk
# (many keep-alive connections), path traversal every way we know (.., encoded .., links out, absolute), and a clean
# SIGINT shutdown (every page back, no socket or file left).
#   tests/files/clients.sh PLATYPOS_SIM
set -euo pipefail
sim=$1
for tool in curl wrk; do
  command -v "$tool" >/dev/null || { echo "clients.sh: $tool missing (./setup.sh installs it)"; exit 1; }
done
port=$((20000 + ($$ + 7919) % 20000))
work=$(mktemp -d)
trap 'kill -INT $pid 2>/dev/null || true; rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/sub" "$root/docs"
printf '<h1>platypos</h1>\n' >"$root/index.html"
printf 'beneath\n' >"$root/sub/note.txt"
printf 'docs index\n' >"$root/docs/index.html"
printf 'secret\n' >"$work/outside.txt"
ln -s ../outside.txt "$root/out-link"
ln -s "$work/outside.txt" "$root/abs-link"
ln -s .. "$root/up"
ln -s sub/note.txt "$root/in-link"
mkfifo "$root/pipe"
head -c 5000000 /dev/urandom >"$root/big.bin"
"$sim" --scenario files --mode threads --root "$root" --listen 127.0.0.1:$port >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do grep -q "file-server: listening" "$work/err" && break; sleep 0.1; done
grep -q "file-server: listening" "$work/err" || { echo "file-server did not start:"; cat "$work/err" "$work/out"; exit 1; }

fail() { echo "FAIL: $*"; tail -20 "$work/err"; exit 1; }
# Sends raw bytes (printf %b escapes) on a fresh connection and prints what comes back until the server closes it.
raw() { timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1; printf "%b" "$2" >&3; cat <&3' _ "$port" "$1" || true; }
url=http://127.0.0.1:$port
code() { curl -s -o /dev/null -w '%{http_code}' --path-as-is "$@"; }

[[ $(curl -s "$url/") == "<h1>platypos</h1>" ]] || fail "GET /"
[[ $(curl -s "$url/sub/note.txt") == "beneath" ]] || fail "GET /sub/note.txt"
[[ $(curl -s "$url/docs/") == "docs index" ]] || fail "GET /docs/ (its index.html)"
[[ $(curl -s "$url/in-link") == "beneath" ]] || fail "a link that stays beneath the root"
[[ $(curl -s "$url/sub%2Fnote.txt") == "beneath" ]] || fail "an encoded /"
curl -s "$url/big.bin" | cmp -s - "$root/big.bin" || fail "GET /big.bin: not the file's bytes"
echo "curl: GET /, a subdirectory's index, a link inside, a 5 MB file byte for byte"

head=$(curl -sI "$url/big.bin" | tr -d '\r')
[[ $head == *"HTTP/1.1 200 OK"* && $head == *"Content-Length: 5000000"* ]] || fail "HEAD: $head"
[[ $(curl -s -X HEAD --max-time 5 "$url/index.html" | wc -c) == 0 ]] || fail "HEAD sent a body"
echo "curl: HEAD has the length, no body"

# Keep-alive: two requests, one connection.
n=$(curl -s -o /dev/null -o /dev/null -w '%{num_connects}\n' "$url/" "$url/sub/note.txt" | awk '{ s += $1 } END { print s }')
[[ $n == 1 ]] || fail "keep-alive: $n connections for two requests"
echo "curl: keep-alive (two requests, one connection)"

[[ $(code "$url/docs") == 301 ]] || fail "a directory without its / is not redirected"
[[ $(curl -s -o /dev/null -w '%{redirect_url}' "$url/docs") == "$url/docs/" ]] || fail "redirect target"
[[ $(code "$url/nope.txt") == 404 ]] || fail "missing file"
[[ $(code "$url/pipe") == 404 ]] || fail "a FIFO was served"
[[ $(code "$url/sub") == 301 && $(code "$url/sub/") == 404 ]] || fail "a directory without index.html"
[[ $(code -X POST "$url/") == 405 ]] || fail "POST"
[[ $(code -X BREW "$url/") == 501 ]] || fail "an unknown method"
echo "curl: 301 for a directory, 404 missing (and a FIFO), 405 POST, 501 unknown method"

# Traversal: none of these may reach outside.txt or /etc/passwd.
for p in "/../outside.txt" "/sub/../../outside.txt" "/%2e%2e/outside.txt" "/%2E%2E%2Foutside.txt" \
         "/sub/%2e%2e/%2e%2e/outside.txt" "/out-link" "/abs-link" "/up/outside.txt" "/..%2f..%2fetc/passwd"; do
  c=$(code "$url$p")
  body=$(curl -s --path-as-is "$url$p")
  [[ $c == 403 || $c == 404 ]] || fail "traversal $p: $c"
  [[ $body != *secret* && $body != *root:* ]] || fail "traversal $p leaked a file"
done
# Absolute-form and odd targets straight over a socket.
got=$(raw 'GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\nGET ../outside.txt HTTP/1.1\r\nHost: x\r\n\r\n' |
      tr -d '\r' | grep '^HTTP/1.1')
[[ $got == $'HTTP/1.1 404 Not Found\nHTTP/1.1 400 Bad Request' ]] || fail "raw traversal: '$got'"
echo "traversal: .., encoded .., links out, absolute paths: 403/404, never a byte outside"

# Bad requests: a clear status, then the connection closes.
bad() {  # request, expected status line
  local got
  got=$(raw "$1" | tr -d '\r' | head -1)
  [[ $got == "$2" ]] || fail "bad request $(printf '%q' "$1"): got '$got', want '$2'"
}
bad 'GET / HTTP/1.1\r\n\r\n' "HTTP/1.1 400 Bad Request"                       # no Host
bad 'GET / HTTP/2.0\r\nHost: x\r\n\r\n' "HTTP/1.1 505 HTTP Version Not Supported"
bad 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' "HTTP/1.1 400 Bad Request"
bad 'GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' "HTTP/1.1 400 Bad Request"
bad 'GET / HTTP/1.1\r\nHost : x\r\n\r\n' "HTTP/1.1 400 Bad Request"
bad 'GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n' "HTTP/1.1 400 Bad Request"
bad 'GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n' "HTTP/1.1 400 Bad Request"
bad 'garbage\r\n\r\n' "HTTP/1.1 400 Bad Request"
long=$(head -c 9000 /dev/zero | tr '\0' 'a')
bad "GET / HTTP/1.1\r\nHost: x\r\nX: $long\r\n\r\n" "HTTP/1.1 431 Request Header Fields Too Large"
bad "GET /$(head -c 3000 /dev/zero | tr '\0' 'a') HTTP/1.1\r\nHost: x\r\n\r\n" "HTTP/1.1 414 URI Too Long"
echo "bad requests: 400 (no Host, a body, a bad field, bad escapes, garbage), 431, 414, 505"

# wrk: many keep-alive connections at once; every response a 200.
wrk -t2 -c64 -d2s "$url/index.html" >"$work/wrk" 2>&1 || fail "wrk: $(cat "$work/wrk")"
grep -q "Requests/sec" "$work/wrk" || fail "wrk: $(cat "$work/wrk")"
! grep -q "Non-2xx\|Socket errors" "$work/wrk" || fail "wrk saw errors: $(cat "$work/wrk")"
echo "wrk: $(grep -o '[0-9]* requests in [0-9.]*s' "$work/wrk") over 64 connections, all 200"

kill -INT $pid
wait $pid || fail "files scenario exited with $?"
grep -q "every page returned" "$work/out" || fail "not a clean shutdown: $(tail -5 "$work/out")"
echo "shutdown on SIGINT: every page returned, no kernel object left"
