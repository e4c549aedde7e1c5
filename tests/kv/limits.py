#!/usr/bin/env python3
"""kv-server under bad and heavy clients (run by tests/kv/limits.sh against a server started with --connections N):
10,000 idle connections at once, then one over the limit (refused with memcached's error, cleanly), a client that
disconnects in the middle of a value, and a slow reader whose replies would be far larger than the server's memory
(backpressure, not growth). Every check can fail: each one compares against what the server must answer."""
import resource
import socket
import sys
import time

port = int(sys.argv[1])
limit = int(sys.argv[2])

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    return s


def roundtrip(s, req, until=b"END\r\n"):
    s.sendall(req)
    buf = b""
    while not buf.endswith(until):
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed after {buf!r}")
        buf += chunk
    return buf


def stats(s):
    out = roundtrip(s, b"stats\r\n").decode()
    return {line.split()[1]: line.split()[2] for line in out.splitlines() if line.startswith("STAT ")}


def wait_for(s, name, want, seconds=60):
    deadline = time.time() + seconds
    while True:
        v = int(stats(s)[name])
        if v == want:
            return
        if time.time() > deadline:
            raise AssertionError(f"{name} is {v}, want {want}")
        time.sleep(0.05)


control = connect()
assert roundtrip(control, b"set k 0 0 5\r\nhello\r\n", b"\r\n") == b"STORED\r\n"

# 1. Idle connections up to the limit (the control connection is one of them); each holds no more than its small
#    input buffer. Then one more: refused with memcached's error, and closed.
heap_before = int(stats(control)["heap_in_use"])
idle = []
for i in range(limit - 1):
    idle.append(connect())
wait_for(control, "curr_connections", limit)
per_idle = (int(stats(control)["heap_in_use"]) - heap_before) / (limit - 1)
assert per_idle <= 4096, f"an idle connection holds {per_idle:.0f} bytes of the server's heap"

over = connect()
over.settimeout(10)
got = b""
while True:
    chunk = over.recv(4096)
    if not chunk:
        break
    got += chunk
assert got == b"SERVER_ERROR too many open connections\r\n", got
st = stats(control)
assert st["rejected_connections"] == "1", st
assert roundtrip(control, b"get k\r\n") == b"VALUE k 0 5\r\nhello\r\nEND\r\n"
# Idle connections still work.
for s in (idle[0], idle[len(idle) // 2], idle[-1]):
    assert roundtrip(s, b"get k\r\n") == b"VALUE k 0 5\r\nhello\r\nEND\r\n"
for s in idle:
    s.close()
wait_for(control, "curr_connections", 1)
print(f"limits: {limit} connections open at once ({limit - 1} idle, {per_idle:.0f} bytes of server heap each), "
      "the next refused with memcached's error; all closed again")

# 2. A client that disconnects in the middle of a value: nothing is stored, nothing stays.
mid = connect()
mid.sendall(b"set mid 0 0 100\r\n" + b"x" * 50)
time.sleep(0.2)
mid.close()
wait_for(control, "curr_connections", 1)
assert roundtrip(control, b"get mid\r\n") == b"END\r\n"
print("limits: a client gone in the middle of a value stored nothing")

# 3. A slow reader: 400 gets of a 512 KiB value (200 MiB of replies, beyond the server's whole reservation) sent
#    without reading. The server must stop reading its requests instead of buffering the replies; meanwhile it
#    serves others; then every reply arrives intact.
big = bytes((i * 7919) % 251 for i in range(512 * 1024))
assert roundtrip(control, b"set big 7 0 %d\r\n" % len(big) + big + b"\r\n", b"\r\n") == b"STORED\r\n"
in_use_before = int(stats(control)["heap_in_use"])
slow = connect()
slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
count = 400
request = b"get big\r\n" * count
sent = 0
slow.setblocking(False)
deadline = time.time() + 5
while sent < len(request) and time.time() < deadline:
    try:
        sent += slow.send(request[sent:])
    except BlockingIOError:
        time.sleep(0.01)
time.sleep(1)
assert roundtrip(control, b"get k\r\n") == b"VALUE k 0 5\r\nhello\r\nEND\r\n"  # the server goes on
# Stuck on the slow reader, the server holds its input buffer and at most a flush's worth of replies.
held = int(stats(control)["heap_in_use"]) - in_use_before
assert held <= 4 << 20, f"the server holds {held} bytes for a slow reader"

slow.setblocking(True)
slow.settimeout(30)
if sent < len(request):
    # The server stopped reading (backpressure): reading the replies lets it go on; send the rest meanwhile.
    import threading
    rest = request[sent:]
    t = threading.Thread(target=lambda: slow.sendall(rest))
    t.start()
else:
    t = None
one = b"VALUE big 7 %d\r\n" % len(big) + big + b"\r\nEND\r\n"
want = len(one) * count
got = 0
pos = 0
while got < want:
    chunk = slow.recv(1 << 20)
    if not chunk:
        raise AssertionError(f"slow reader: closed after {got} of {want} bytes")
    n = len(chunk)
    start = pos % len(one)
    expected = (one[start:] + one * (n // len(one) + 2))[:n]
    if chunk != expected:
        raise AssertionError(f"slow reader: reply bytes differ at {got}")
    pos += n
    got += n
if t:
    t.join()
slow.close()
print(f"limits: a slow reader got {count} replies of 512 KiB ({want >> 20} MiB, more than the server's memory) "
      f"intact; while it did not read, the server held {held >> 10} KiB for it")
wait_for(control, "curr_connections", 1)
control.close()
