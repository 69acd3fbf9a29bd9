"""The SDK as a user meets it (docs/sdk.md): `meson install` of the build tree into a temporary
directory, the programs in examples/ built out of tree against it with nothing but
`dependency('sluice')`, and each run against Linux peers in a namespace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import REPO_ROOT, engine_binary
from test_tcp import ECHO_CLIENT, ECHO_SERVER, run_peer, server_result, start_server

BUILD_TIMEOUT = 600


@pytest.fixture(scope="module")
def sdk():
    """The installed tree and the examples built against it: {"prefix": Path, "kv": Path}."""
    build_dir = engine_binary().parents[1]
    work = Path(tempfile.mkdtemp(prefix="sluice-sdk-"))
    try:
        destdir = work / "root"
        subprocess.run(["meson", "install", "-C", str(build_dir), "--no-rebuild", "--quiet",
                        "--destdir", str(destdir)], check=True, capture_output=True, text=True,
                       timeout=BUILD_TIMEOUT)
        pcs = list(destdir.rglob("sluice.pc"))
        assert len(pcs) == 1, pcs
        env = dict(os.environ, PKG_CONFIG_PATH=str(pcs[0].parent))
        built = {"prefix": pcs[0].parents[3], "pkgconfig": pcs[0].parent}
        for name in ("kv", "http-load", "proxy"):
            out = work / f"build-{name}"
            for cmd in (["meson", "setup", str(out), str(REPO_ROOT / "examples" / name)],
                        ["ninja", "-C", str(out)]):
                done = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                      timeout=BUILD_TIMEOUT)
                assert done.returncode == 0, f"{' '.join(cmd)}:\n{done.stdout}\n{done.stderr}"
            built[name] = out / f"sluice-{name}"
        yield built
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_the_installed_tree_has_headers_libraries_pkgconfig_binaries_and_config(sdk):
    prefix = sdk["prefix"]
    headers = {p.name for p in (prefix / "include" / "sluice").iterdir()}
    assert {"sluice.hpp", "application.hpp", "connection.hpp", "sockets.hpp"} <= headers
    # Nothing of the engine's insides: every installed header includes only <sluice/...>,
    # the standard library and DPDK.
    for header in (prefix / "include" / "sluice").iterdir():
        for line in header.read_text().splitlines():
            if line.startswith("#include"):
                assert '"' not in line and "dataplane/" not in line, f"{header.name}: {line}"
    libs = {p.name for p in sdk["pkgconfig"].parent.iterdir()}
    assert {"libsluice.so", "libsluice.a"} <= libs
    for binary in ("sluice", "sluicectl"):
        assert os.access(prefix / "bin" / binary, os.X_OK), binary
    assert (prefix / "share" / "sluice" / "sluice.ini").is_file()
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "sluice"], capture_output=True,
                           text=True, env=dict(os.environ, PKG_CONFIG_PATH=str(sdk["pkgconfig"])),
                           check=True).stdout
    assert "-lsluice" in flags and "-isystem" in flags, flags


def test_a_program_lists_its_own_services_and_refuses_unknown_ones(sdk):
    helped = subprocess.run([str(sdk["kv"]), "--", "--help"], capture_output=True, text=True,
                            timeout=30)
    assert helped.returncode == 0, helped.stderr
    assert "usage: sluice-kv" in helped.stdout
    services = helped.stdout.split("\nServices (")[1]
    for name in ("kv", "echo", "discard", "source", "http"):
        assert f"\n  {name} " in services, services

    bad = subprocess.run([str(sdk["kv"]), "--", "--addr", "10.0.0.2/24", "--serve", "memcache:1"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2
    assert ("unknown service 'memcache': the services are echo, discard, source, http, kv"
            in bad.stderr), bad.stderr


KV_CLIENT = r"""
import random
ip, port, keys, conns = cfg["ip"], cfg["port"], cfg["keys"], cfg["connections"]
socks = [socket.create_connection((ip, port), timeout=30) for _ in range(conns)]
files = [s.makefile("rwb") for s in socks]
def ask(i, line):
    f = files[i % conns]
    f.write(line.encode() + b"\n")
    f.flush()
    return f.readline().decode().rstrip("\n")
wrong = []
# Each key written on one connection and read back on another: whichever worker either landed
# on, the key's owner answers.
for k in range(keys):
    if ask(k, f"SET key{k} value-{k}-" + "x" * (k % 50)) != "OK":
        wrong.append(("set", k))
for k in range(keys):
    got = ask(k + 3, f"GET key{k}")
    if got != f"VALUE value-{k}-" + "x" * (k % 50):
        wrong.append(("get", k, got))
for k in range(0, keys, 2):
    if ask(k + 1, f"DEL key{k}") != "DELETED":
        wrong.append(("del", k))
# Pipelined: every request of a batch in one write, the answers in order.
f = files[0]
batch = [f"GET key{k}" for k in range(keys)]
f.write(("\n".join(batch) + "\n").encode())
f.flush()
for k in range(keys):
    got = f.readline().decode().rstrip("\n")
    want = "NOT_FOUND" if k % 2 == 0 else f"VALUE value-{k}-" + "x" * (k % 50)
    if got != want:
        wrong.append(("pipelined", k, got))
errors = [ask(0, "FLY me"), ask(1, "SET lonely"), ask(2, "GET " + "k" * 300)]
for s in socks:
    s.close()
done(wrong=wrong[:10], wrong_count=len(wrong), errors=errors)
"""


@pytest.mark.lab(queues=2, start_engine=False)
def test_kv_example_answers_every_key_from_either_worker(lab, sdk):
    lab.start_engine(["--workers", "2", "--serve", "kv:6380"], binary=sdk["kv"])
    r = run_peer(lab, KV_CLIENT, {"ip": lab.engine_ip, "port": 6380, "keys": 300,
                                  "connections": 16}, timeout=300)
    assert r["wrong_count"] == 0, r["wrong"]
    assert r["errors"] == ["ERROR unknown command", "ERROR usage: SET key value",
                           "ERROR keys are 1-250 bytes without spaces"], r["errors"]
    c = lab.stop()
    opens = [c["worker.0.tcp_passive_opens"], c["worker.1.tcp_passive_opens"]]
    assert sum(opens) == 16 and min(opens) > 0, opens
    # Keys owned by the other worker went there and back as messages.
    assert c["app_messages_run"] > 0, c


@pytest.mark.lab(start_engine=False)
def test_sluicectl_lists_and_installs_a_programs_own_service_at_run_time(lab, sdk):
    from test_telemetry import sluicectl, sluicectl_json

    lab.start_engine(["--serve", "kv:6380"], binary=sdk["kv"])
    services = sluicectl_json(lab, "services")
    assert set(services) == {"echo", "discard", "source", "http", "kv"}, services
    assert "key-value" in services["kv"]
    bad = sluicectl(lab, "listen", "memcache:11211", check=False)
    assert bad.returncode == 1 and "unknown service 'memcache'" in bad.stderr, bad.stderr
    assert "listening on port 6381" in sluicectl(lab, "listen", "kv:6381").stdout
    # The same store behind both ports: one worker, one shard.
    r = run_peer(lab, r"""
a = socket.create_connection((cfg["ip"], 6380), timeout=30).makefile("rwb")
b = socket.create_connection((cfg["ip"], 6381), timeout=30).makefile("rwb")
a.write(b"SET colour blue\n"); a.flush()
set_answer = a.readline().decode().strip()
b.write(b"GET colour\n"); b.flush()
done(set_answer=set_answer, get_answer=b.readline().decode().strip())
""", {"ip": lab.engine_ip})
    assert r == {"set_answer": "OK", "get_answer": "VALUE blue"}, r


# A Linux HTTP/1.1 server with keep-alive, counting the requests it answers.
KEEPALIVE_HTTP_SERVER = r"""
import http.server, os
served = 0
lock = threading.Lock()
body = b"x" * cfg["body"]
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Header and body in one write, as real servers send them (two small writes meet Nagle's
    # algorithm on this side and the client's delayed ACK on the other: 40 ms a request).
    wbufsize = 65536
    def do_GET(self):
        global served
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with lock:
            served += 1
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer((cfg["ip"], cfg["port"]), Handler)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()
print("LISTENING", flush=True)
deadline = time.monotonic() + 300
while not os.path.exists(cfg["stop_file"]) and time.monotonic() < deadline:
    time.sleep(0.05)
with lock:
    done(served=served)
"""


def report_of(lines: list[str]) -> dict:
    values = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[1].replace(".", "").isdigit():
            values[parts[0]] = float(parts[1])
    return values


@pytest.mark.lab(start_engine=False)
def test_http_load_example_drives_a_linux_server_and_reports_latency(lab, sdk):
    body, connections = 512, 8
    stop_file = Path(tempfile.mkdtemp(prefix="sluice-http-load-")) / "stop"
    try:
        server = start_server(lab, KEEPALIVE_HTTP_SERVER, {"ip": lab.peer_ip, "port": 8080,
                                                          "body": body,
                                                          "stop_file": str(stop_file)})
        lab.start_engine(["--", f"{lab.peer_ip}:8080", "--connections", str(connections),
                          "--duration", "3"], binary=sdk["http-load"])
        status = lab.wait_engine_exit(timeout=120)
        stop_file.touch()
        served = server_result(server)["served"]
    finally:
        shutil.rmtree(stop_file.parent, ignore_errors=True)
    assert status == 0, lab.output()
    r = report_of(lab.engine_stdout)
    assert r["requests"] > 0 and r["errors"] == 0 and r["reconnects"] == 0, r
    # Every answer counted was served; at most one request per connection was cut off by the
    # stop.
    assert r["requests"] <= served <= r["requests"] + connections, (r, served)
    assert r["body_bytes"] == r["requests"] * body, r
    assert 0 < r["latency_p50_us"] <= r["latency_p90_us"] <= r["latency_p99_us"] \
        <= r["latency_max_us"], r


def test_http_load_example_refuses_bad_arguments(sdk):
    for args, message in ((["--"], "expected HOST:PORT"),
                          (["--", "10.0.0.1"], "'10.0.0.1': expected HOST:PORT"),
                          (["--", "10.0.0.1:80", "--connections", "0"],
                           "--connections '0': expected 1 to 100000"),
                          (["--", "10.0.0.1:80", "--rate", "9"], "unknown option '--rate'")):
        done = subprocess.run([str(sdk["http-load"]), "--", "--addr", "10.0.0.2/24", *args],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)


@pytest.mark.lab(start_engine=False)
def test_proxy_example_relays_both_ways_without_copying_and_passes_half_closes(lab, sdk):
    # Linux client -> the proxy on Sluice -> a Linux echo server, 8 MiB each way. The server
    # half-closes only after the client's FIN has come through, and the client reads to the
    # server's FIN: both half-closes crossed the proxy.
    n = 8 * 1024 * 1024
    server = start_server(lab, ECHO_SERVER, {"ip": lab.peer_ip, "port": 9000,
                                             "accept_timeout": 60})
    lab.start_engine(["--serve", "proxy:8000", "--", f"{lab.peer_ip}:9000"], binary=sdk["proxy"])
    r = run_peer(lab, ECHO_CLIENT, {"ip": lab.engine_ip, "port": 8000, "bytes": n, "seed": 5})
    assert not r["error"] and not r["reader_alive"], r
    assert r["received"] == n and r["received_sha"] == r["sent_sha"], r
    echoed = server_result(server)
    assert echoed["received"] == n and echoed["sha"] == r["sent_sha"], echoed
    assert echoed["peer"] == lab.engine_ip and echoed["tail"] == 0, echoed
    c = lab.stop()
    assert c["tcp_passive_opens"] == 1 and c["tcp_active_opens"] == 1, c
    # What was relayed went as the buffers it arrived in.
    assert c["tcp_segments_sent_by_reference"] > 0, c
    # Nothing held back once both connections closed (af_packet keeps no buffers of its own).
    assert c["mbufs_in_use"] == 0, c
