"""TCP against Linux peers: curl and wrk on the HTTP server, python sockets on echo, discard,
source and HTTP (pipelining, keep-alive, 10,000 connections in a row), the engine's own client
against Linux servers (half-close both ways), and the RST for a closed port.

Every byte the engine generates (HTTP bodies, source, its client) is PATTERN[i % 64] at stream
offset i; peers check that, and what goes through echo is checked by SHA-256.  Peer programs run
in the lab's namespace under /usr/bin/python3 and print one JSON line as their last line.
Timeouts are generous and bound every wait; nothing asserts on speed.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time

import pytest

PYTHON = "/usr/bin/python3"  # Debian's interpreter, as in conftest.py

PATTERN = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
MIB = 1 << 20
PEER_TIMEOUT = 150.0  # bound for any one peer program; the engine on a busy machine is slow
SERVER_PORT = 5001  # Linux servers in the namespace, for the engine's client


def pattern(n: int, offset: int = 0) -> bytes:
    reps = (offset % 64 + n) // 64 + 1
    start = offset % 64
    return (PATTERN * reps)[start:start + n]


def pattern_sha256(n: int) -> str:
    h = hashlib.sha256()
    block = PATTERN * 16384  # 1 MiB, a multiple of 64: each block starts at offset 0 mod 64
    left = n
    while left >= len(block):
        h.update(block)
        left -= len(block)
    h.update(block[:left])
    return h.hexdigest()


# Shared by the peer programs below (prepended to each).
PEER_PRELUDE = r"""
import hashlib, json, socket, sys, threading, time
PATTERN = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
def pattern(n, offset=0):
    reps = (offset % 64 + n) // 64 + 1
    start = offset % 64
    return (PATTERN * reps)[start:start + n]
cfg = json.loads(sys.argv[1])
def done(**result):
    print(json.dumps(result), flush=True)
    sys.exit(0)
def fetch(ip, port, request):
    # One request on a new connection, read to the server's FIN: the whole response.
    s = socket.create_connection((ip, port), timeout=30)
    s.settimeout(30)
    s.sendall(request)
    chunks = []
    while True:
        b = s.recv(65536)
        if not b:
            break
        chunks.append(b)
    s.close()
    return b"".join(chunks)
def read_pattern_to_eof(s):
    # Reads until the other side's FIN; returns (bytes read, whether they were the test pattern).
    n = 0
    intact = True
    while True:
        b = s.recv(1 << 16)
        if not b:
            return n, intact
        if b != pattern(len(b), n):
            intact = False
        n += len(b)
"""


def run_peer(lab, body: str, cfg: dict, timeout: float = PEER_TIMEOUT) -> dict:
    """Run a peer program in the namespace and return its JSON result."""
    done = lab.run_in_ns(PYTHON, "-c", PEER_PRELUDE + body, json.dumps(cfg), timeout=timeout)
    return peer_result(done.returncode, done.stdout, done.stderr)


def peer_result(returncode: int, stdout: str, stderr: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert returncode == 0 and lines, (f"peer program failed ({returncode}):\n{stdout}\n"
                                       f"{stderr[-3000:]}")
    return json.loads(lines[-1])


def http_url(lab, path: str = "/", port: int = 80) -> str:
    return f"http://{lab.engine_ip}:{port}{path}"


def stop_and_check(lab) -> dict:
    """Stop the engine (it must exit 0 with a report) and check what every test expects."""
    counters = lab.stop()
    assert counters.get("tcp_connect_failures", 0) == 0, counters
    return counters


# --------------------------------------------------------------------------------------------
# 1. curl: a 1 KiB body and a 64 MiB body, byte-exact.


def curl_sha256(lab, url: str, timeout: float = PEER_TIMEOUT) -> tuple[int, str, int, str]:
    """curl url in the namespace, hashing the body as it streams in: (exit, sha256, length,
    stderr)."""
    proc = lab.popen_in_ns("curl", "-sS", "--fail", "--max-time", str(int(timeout)), "-o", "-",
                           url, stdout=subprocess.PIPE, text=False)
    h = hashlib.sha256()
    length = 0
    while True:
        chunk = proc.stdout.read(1 << 16)
        if not chunk:
            break
        h.update(chunk)
        length += len(chunk)
    proc.wait(timeout=timeout + 30)
    return proc.returncode, h.hexdigest(), length, proc.stderr.read().decode(errors="replace")


@pytest.mark.lab(engine_args=["--serve", "http:80"])
def test_curl_small_and_64mib_bodies(lab):
    small = lab.run_in_ns("curl", "-sS", "--fail", "--max-time", "60", "-D", "/dev/stderr",
                          http_url(lab), timeout=90)
    assert small.returncode == 0, small.stderr
    assert small.stdout == pattern(1024).decode(), small.stdout[:200]
    assert re.search(r"(?im)^content-length: 1024\r?$", small.stderr), small.stderr

    big = 64 * MIB
    status, digest, length, err = curl_sha256(lab, http_url(lab, f"/bytes/{big}"))
    assert status == 0, f"curl exited {status}: {err}"
    assert length == big
    assert digest == pattern_sha256(big)

    counters = stop_and_check(lab)
    assert counters["tcp_passive_opens"] >= 2
    assert counters["tcp_resets_sent"] == 0, counters


# --------------------------------------------------------------------------------------------
# 2. wrk: 100 connections, 2 threads, 5 s; no socket errors, no bad statuses.


@pytest.mark.lab(engine_args=["--serve", "http:80"])
def test_wrk_100_connections(lab):
    done = lab.run_in_ns("wrk", "-c", "100", "-t", "2", "-d", "5s", "--timeout", "20s",
                         http_url(lab), timeout=120)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    requests = re.search(r"^\s*(\d+) requests in ", out, re.M)
    assert requests, out
    assert int(requests.group(1)) > 0, out
    # wrk prints these lines only when there is something to report.
    assert "Socket errors:" not in out, out
    assert "Non-2xx or 3xx responses" not in out, out

    # Still serving after the load; then a clean stop.
    after = lab.run_in_ns("curl", "-sS", "--fail", "--max-time", "60", http_url(lab),
                          timeout=90)
    assert after.returncode == 0 and after.stdout == pattern(1024).decode(), after.stderr
    counters = stop_and_check(lab)
    assert counters["tcp_passive_opens"] >= 101, counters


# --------------------------------------------------------------------------------------------
# 3. Echo: 32 MiB each way from a Linux client, sending and receiving at once.

ECHO_CLIENT = r"""
import random
n = cfg["bytes"]
data = random.Random(cfg["seed"]).randbytes(n)  # no short period: a misplaced block shows
s = socket.create_connection((cfg["ip"], cfg["port"]), timeout=60)
s.settimeout(60)
got = hashlib.sha256()
received = [0]
error = []
def reader():
    try:
        while True:
            b = s.recv(1 << 16)
            if not b:
                return
            got.update(b)
            received[0] += len(b)
    except Exception as e:
        error.append(repr(e))
t = threading.Thread(target=reader)
t.start()
view = memoryview(data)
for i in range(0, n, 1 << 16):
    s.sendall(view[i:i + (1 << 16)])
s.shutdown(socket.SHUT_WR)
t.join(120)
done(sent_sha=hashlib.sha256(data).hexdigest(), received=received[0],
     received_sha=got.hexdigest(), reader_alive=t.is_alive(), error=error)
"""


def echo_each_way(lab, n: int, seed: int) -> dict:
    """n bytes through the engine's echo service on port 7, checked byte for byte; the engine is
    then stopped, and its counters returned."""
    r = run_peer(lab, ECHO_CLIENT, {"ip": lab.engine_ip, "port": 7, "bytes": n, "seed": seed})
    assert not r["error"] and not r["reader_alive"], r
    assert r["received"] == n, r
    assert r["received_sha"] == r["sent_sha"], r
    return stop_and_check(lab)


@pytest.mark.lab(engine_args=["--serve", "echo:7"])
def test_echo_32mib_each_way(lab):
    counters = echo_each_way(lab, 32 * MIB, seed=7)
    assert counters["tcp_resets_sent"] == 0, counters
    # The client closed first and the engine followed: no TIME-WAIT on the engine's side.
    assert counters["tcp_connections"] == 0, counters


@pytest.mark.lab(engine_args=["--serve", "echo:7", "--tcp-checksums", "trust-received"])
def test_echo_with_received_checksums_trusted(lab):
    # Linux sums what it sends and checks what it receives: the engine, trusting what it
    # receives, must still sum what it sends, or Linux would drop every segment.
    counters = echo_each_way(lab, 4 * MIB, seed=11)
    assert counters.get("drop.tcp_bad_checksum", 0) == 0, counters
    log = lab.engine_output()
    assert any("TCP checksums: trust-received" in line for line in log), log[-20:]
    # af_packet is a wire as far as the engine can tell: it says what it is not checking.
    assert any("not a link of shared memory" in line for line in log), log[-20:]


# --------------------------------------------------------------------------------------------
# 4. The engine's own client against Linux servers: half-close in both directions.

# Echoes until EOF, then shuts down its write side (the engine must read to that FIN).
ECHO_SERVER = r"""
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((cfg["ip"], cfg["port"]))
l.listen(1)
l.settimeout(cfg["accept_timeout"])
print("LISTENING", flush=True)
c, peer = l.accept()
c.settimeout(60)
h = hashlib.sha256()
n = 0
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    h.update(b)
    n += len(b)
    c.sendall(b)
c.shutdown(socket.SHUT_WR)
tail = c.recv(1)  # the engine closes after our FIN: EOF, not more data
c.close()
done(received=n, sha=h.hexdigest(), peer=peer[0], tail=len(tail))
"""

# Reads until EOF (checking the pattern), then sends its own `reply` bytes of the pattern and
# closes: the engine's half of the connection is closed while it still receives.
REPLY_AFTER_EOF_SERVER = r"""
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((cfg["ip"], cfg["port"]))
l.listen(1)
l.settimeout(cfg["accept_timeout"])
print("LISTENING", flush=True)
c, peer = l.accept()
c.settimeout(60)
n, intact = read_pattern_to_eof(c)
c.sendall(pattern(cfg["reply"]))
c.shutdown(socket.SHUT_WR)
tail = c.recv(1)
c.close()
done(received=n, intact=intact, peer=peer[0], tail=len(tail))
"""


def start_server(lab, body: str, cfg: dict):
    proc = lab.popen_in_ns(PYTHON, "-c", PEER_PRELUDE + body, json.dumps(cfg))
    line = proc.stdout.readline()  # bounded: the server's accept() has a timeout
    if line.strip() != "LISTENING":
        proc.kill()
        out, err = proc.communicate(timeout=30)
        raise AssertionError(f"server in the namespace did not start: {line}{out}\n{err}")
    return proc


def server_result(proc) -> dict:
    try:
        out, err = proc.communicate(timeout=PEER_TIMEOUT)
    except Exception:
        proc.kill()
        out, err = proc.communicate(timeout=30)
        raise AssertionError(f"server did not finish:\n{out}\n{err}")
    return peer_result(proc.returncode, out, err)


CLIENT_LINE = re.compile(r"^sluice: client: sent (\d+) of (\d+) bytes, received (\d+) bytes, "
                         r"all as sent, connection closed$")


def client_summary(lab) -> tuple[int, int, int]:
    lines = [line for line in lab.engine_stdout if line.startswith("sluice: client:")]
    assert lines, f"no client summary\n{lab.output()}"
    match = CLIENT_LINE.match(lines[-1])
    assert match, f"client summary is not a success: {lines[-1]!r}\n{lab.output()}"
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


@pytest.mark.lab(start_engine=False)
def test_engine_client_against_linux_echo_server(lab):
    n = 32 * MIB
    server = start_server(lab, ECHO_SERVER, {"ip": lab.peer_ip, "port": SERVER_PORT,
                                             "accept_timeout": 60})
    lab.start_engine(["--connect", f"{lab.peer_ip}:{SERVER_PORT}", "--client-bytes", str(n)])
    status = lab.wait_engine_exit(timeout=PEER_TIMEOUT)
    r = server_result(server)
    assert status == 0, f"engine exited {status}\n{lab.output()}"
    assert client_summary(lab) == (n, n, n)
    assert r["peer"] == lab.engine_ip
    assert r["received"] == n and r["sha"] == pattern_sha256(n), r
    assert r["tail"] == 0, r
    assert lab.counters["tcp_active_opens"] == 1, lab.counters
    assert lab.counters["tcp_resets_sent"] == 0, lab.counters


@pytest.mark.lab(start_engine=False)
def test_engine_client_reads_after_its_own_fin(lab):
    n = 8 * MIB
    reply = MIB + 100  # not a multiple of the pattern's period or of a segment
    server = start_server(lab, REPLY_AFTER_EOF_SERVER,
                          {"ip": lab.peer_ip, "port": SERVER_PORT, "accept_timeout": 60,
                           "reply": reply})
    lab.start_engine(["--connect", f"{lab.peer_ip}:{SERVER_PORT}", "--client-bytes", str(n),
                      "--client-expect", str(reply)])
    status = lab.wait_engine_exit(timeout=PEER_TIMEOUT)
    r = server_result(server)
    assert status == 0, f"engine exited {status}\n{lab.output()}"
    assert client_summary(lab) == (n, n, reply)
    assert r["received"] == n and r["intact"], r
    assert r["tail"] == 0, r
    assert lab.counters["tcp_resets_sent"] == 0, lab.counters


# --------------------------------------------------------------------------------------------
# 5. A closed port answers with a RST: curl is refused (exit 7), it does not time out (28).


@pytest.mark.lab(engine_args=["--serve", "http:80"])
def test_closed_port_is_refused_with_rst(lab):
    done = lab.run_in_ns("curl", "-sS", "--connect-timeout", "30", "--max-time", "60",
                         http_url(lab, port=81), timeout=90)
    assert done.returncode == 7, (done.returncode, done.stderr)
    assert "refused" in done.stderr.lower() or "couldn't connect" in done.stderr.lower(), \
        done.stderr
    # The open port next to it still works.
    ok = lab.run_in_ns("curl", "-sS", "--fail", "--max-time", "60", http_url(lab), timeout=90)
    assert ok.returncode == 0, ok.stderr
    counters = stop_and_check(lab)
    assert counters["tcp_resets_sent"] > 0, counters


# --------------------------------------------------------------------------------------------
# 6. 10,000 connections in a row, then no TCB, mbuf or port left behind.

SEQUENTIAL_CLIENT = r"""
request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
expected_body = pattern(cfg["body"])
started = time.monotonic()
for i in range(cfg["count"]):
    try:
        response = fetch(cfg["ip"], cfg["port"], request)
    except Exception as e:
        done(ok=i, error=f"connection {i}: {e!r}", seconds=time.monotonic() - started)
    head, sep, body = response.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not sep or lines[0] != b"HTTP/1.1 200 OK" or body != expected_body or \
            (b"content-length: %d" % len(expected_body)) not in head.lower():
        done(ok=i, error=f"connection {i}: bad response {response[:300]!r}",
             seconds=time.monotonic() - started)
done(ok=cfg["count"], error=None, seconds=time.monotonic() - started)
"""

MSL = 1  # seconds; TIME-WAIT lasts 2 * MSL
TIME_WAIT_MARGIN = 3.0  # a little more than 2 * MSL, for a slow timer wheel on a busy machine


@pytest.mark.lab(start_engine=False)
def test_ten_thousand_sequential_connections_leave_nothing_behind(lab):
    args = ["--serve", "http:80", "--msl", str(MSL)]
    cfg = {"ip": lab.engine_ip, "port": 80, "body": 1024}

    # Baseline: a fresh engine with the same options, a few connections, TIME-WAIT expired.
    # mbufs_in_use then counts what the engine holds when idle (whatever the PMD keeps in its rx
    # ring, none for af_packet, which copies each frame into a fresh mbuf); a leak shows above it.
    lab.start_engine(args)
    r = run_peer(lab, SEQUENTIAL_CLIENT, dict(cfg, count=5))
    assert r["error"] is None, r
    time.sleep(2 * MSL + TIME_WAIT_MARGIN)
    baseline = lab.stop()
    assert baseline["tcp_connections"] == 0, baseline
    lab.reset_engine()

    lab.start_engine(args)
    count = 10_000
    r = run_peer(lab, SEQUENTIAL_CLIENT, dict(cfg, count=count), timeout=300)
    assert r["error"] is None and r["ok"] == count, r
    time.sleep(2 * MSL + TIME_WAIT_MARGIN)
    counters = lab.stop()
    states = {k: v for k, v in counters.items() if k.startswith("tcp_state.")}
    assert counters["tcp_connections"] == 0, states
    assert not states, states
    assert counters["tcp_passive_opens"] >= count, counters
    assert counters["tcp_established"] >= count, counters
    assert counters["mbufs_in_use"] <= baseline["mbufs_in_use"], (counters["mbufs_in_use"],
                                                                  baseline["mbufs_in_use"])


# --------------------------------------------------------------------------------------------
# 7. HTTP pipelining and keep-alive from a raw socket.

HTTP_RAW_CLIENT = r"""
def read_response(s, buf, head_request=False):
    # One response from buffered bytes + the socket: (status line, headers, body, rest of buf).
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            raise EOFError(f"EOF inside a response head: {buf[:200]!r}")
        buf += b
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "-1"))
    want = 0 if head_request else length
    while len(buf) < want:
        b = s.recv(65536)
        if not b:
            raise EOFError(f"EOF inside a body: {len(buf)} of {want}")
        buf += b
    return lines[0], headers, buf[:want], buf[want:]

def check(status, headers, body, size, head_request=False):
    assert status == "HTTP/1.1 200 OK", status
    assert int(headers["content-length"]) == size, headers
    assert body == (b"" if head_request else pattern(size)), (len(body), body[:80])

def rest_until_eof(s, buf):
    while True:
        b = s.recv(65536)
        if not b:
            return buf
        buf += b

s = socket.create_connection((cfg["ip"], cfg["port"]), timeout=60)
s.settimeout(60)
sizes = cfg["sizes"]
if cfg["mode"] == "pipeline":
    # Three requests in one send; the last asks the server to close after answering it.
    reqs = [b"GET /bytes/%d HTTP/1.1\r\nHost: x\r\n\r\n" % sizes[0],
            b"GET /bytes/%d HTTP/1.1\r\nHost: x\r\n\r\n" % sizes[1],
            b"GET /bytes/%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % sizes[2]]
    s.sendall(b"".join(reqs))
    buf = b""
    for size in sizes:
        status, headers, body, buf = read_response(s, buf)
        check(status, headers, body, size)
    extra = rest_until_eof(s, buf)  # the server closes after the third: EOF, nothing more
    assert extra == b"", extra[:200]
    done(ok=True)
else:
    # Keep-alive: request, response, next request on the same connection; a HEAD in between.
    buf = b""
    s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: x\r\n\r\n" % sizes[0])
    status, headers, body, buf = read_response(s, buf)
    check(status, headers, body, sizes[0])
    assert headers.get("connection", "").lower() != "close", headers
    s.sendall(b"HEAD /bytes/%d HTTP/1.1\r\nHost: x\r\n\r\n" % sizes[1])
    status, headers, body, buf = read_response(s, buf, head_request=True)
    check(status, headers, body, sizes[1], head_request=True)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body, buf = read_response(s, buf)
    check(status, headers, body, cfg["default_body"])
    # Still open after three answers: a fourth, which closes it.
    s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % sizes[2])
    status, headers, body, buf = read_response(s, buf)
    check(status, headers, body, sizes[2])
    extra = rest_until_eof(s, buf)
    assert extra == b"", extra[:200]
    done(ok=True)
"""


@pytest.mark.lab(engine_args=["--serve", "http:80"])
@pytest.mark.parametrize("mode", ["pipeline", "keepalive"])
def test_http_pipelining_and_keepalive(lab, mode):
    # Different sizes, so that answers out of order or cut short show.
    sizes = [10, 200_000, 3001]
    r = run_peer(lab, HTTP_RAW_CLIENT, {"ip": lab.engine_ip, "port": 80, "mode": mode,
                                        "sizes": sizes, "default_body": 1024})
    assert r["ok"], r
    counters = stop_and_check(lab)
    assert counters["tcp_passive_opens"] == 1, counters
    assert counters["tcp_resets_sent"] == 0, counters


# --------------------------------------------------------------------------------------------
# 8. source and discard.

SOURCE_CLIENT = r"""
s = socket.create_connection((cfg["ip"], cfg["port"]), timeout=60)
s.settimeout(60)
n, intact = read_pattern_to_eof(s)
s.close()
done(received=n, intact=intact)
"""

DISCARD_CLIENT = r"""
s = socket.create_connection((cfg["ip"], cfg["port"]), timeout=60)
s.settimeout(60)
s.sendall(pattern(cfg["bytes"]))
s.shutdown(socket.SHUT_WR)
try:
    b = s.recv(1 << 16)  # discard sends nothing: its FIN comes as EOF, a RST would raise
    outcome = "eof" if b == b"" else f"data {b[:80]!r}"
except Exception as e:
    outcome = repr(e)
s.close()
done(outcome=outcome)
"""

SOURCE_BYTES = 3 * MIB + 17


@pytest.mark.lab(engine_args=["--serve", "source:19", "--source-bytes", str(SOURCE_BYTES)])
def test_source_sends_exactly_source_bytes(lab):
    r = run_peer(lab, SOURCE_CLIENT, {"ip": lab.engine_ip, "port": 19})
    assert r == {"received": SOURCE_BYTES, "intact": True}, r
    counters = stop_and_check(lab)
    assert counters["tcp_resets_sent"] == 0, counters


@pytest.mark.lab(engine_args=["--serve", "discard:9"])
def test_discard_accepts_and_closes_cleanly(lab):
    n = MIB
    r = run_peer(lab, DISCARD_CLIENT, {"ip": lab.engine_ip, "port": 9, "bytes": n})
    assert r["outcome"] == "eof", r
    counters = stop_and_check(lab)
    assert counters["tcp_bytes_received"] >= n, counters
    assert counters["tcp_resets_sent"] == 0, counters
    # The client closed first: the engine's side ends in CLOSED, not TIME-WAIT.
    assert counters["tcp_connections"] == 0, counters
