"""Telemetry and the admin CLI (issue: control plane, item 7): `sluicectl` and DPDK's own
dpdk-telemetry.py read the engine's rte_telemetry commands while Linux peers use it, and
`sluicectl listen`/`unlisten` change the listeners of a running engine.
"""
from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

SLUICECTL = Path(__file__).resolve().parents[2] / "control" / "sluicectl"
TELEMETRY_CLIENT = "/usr/bin/dpdk-telemetry.py"
HTTP = ["--serve", "http:80", "--serve", "echo:7"]


def sluicectl(lab, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["/usr/bin/python3", str(SLUICECTL), "-f", lab.file_prefix, *args],
                          capture_output=True, text=True, timeout=30)
    if check:
        assert proc.returncode == 0, f"sluicectl {' '.join(args)}: {proc.stderr}"
    return proc


def sluicectl_json(lab, *args: str):
    return json.loads(sluicectl(lab, "--json", *args).stdout)


def telemetry_client(lab, command: str) -> dict:
    """One command through dpdk-telemetry.py, which prints one JSON reply per command."""
    proc = subprocess.run(["/usr/bin/python3", TELEMETRY_CLIENT, "-f", lab.file_prefix],
                          input=command + "\n", capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    replies = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    reply = [r for r in replies if command in r]
    assert reply, proc.stdout
    return reply[0][command]


def slow_download(lab):
    """A curl in the namespace that keeps one connection established for a while: it reads a
    large body at 20 KB/s."""
    return lab.popen_in_ns("curl", "-s", "-o", "/dev/null", "--limit-rate", "20k",
                           "--max-time", "60", f"http://{lab.engine_ip}/bytes/20000000")


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.2)


def curl_connection(lab, conns: list[dict]):
    for c in conns:
        if c["remote"].startswith(lab.peer_ip + ":") and c["local"] == f"{lab.engine_ip}:80":
            return c
    return None


@pytest.mark.lab(engine_args=HTTP)
def test_sluicectl_conns_lists_a_live_curl_connection_with_state_and_rtt(lab):
    curl = slow_download(lab)
    conn = wait_for(lambda: curl_connection(lab, sluicectl_json(lab, "conns")))
    assert conn["state"] == "ESTABLISHED"
    assert conn["worker"] == 0
    assert conn["srtt_us"] > 0, "an RTT sample after the handshake and the data"
    assert conn["rto_us"] >= conn["srtt_us"]
    assert conn["mss"] > 0 and conn["cwnd"] > 0

    table = sluicectl(lab, "conns").stdout.splitlines()
    assert table[0].split()[:4] == ["LOCAL", "REMOTE", "STATE", "WORKER"]
    row = [line for line in table if conn["remote"] in line]
    assert row and "ESTABLISHED" in row[0], table

    # DPDK's own client reads the same command.
    page = telemetry_client(lab, "/sluice/conns")
    assert page["total"] >= 1
    rows = [v for k, v in page.items() if k.isdigit()]
    same = [r for r in rows if r["remote"] == conn["remote"]]
    assert same and same[0]["state"] == "ESTABLISHED" and same[0]["srtt_us"] > 0
    curl.kill()


@pytest.mark.lab(engine_args=HTTP)
def test_stats_workers_listeners_and_ports_agree_with_the_engine(lab):
    for _ in range(3):
        r = lab.run_in_ns("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                          f"http://{lab.engine_ip}/")
        assert r.stdout == "200"
    stats = sluicectl_json(lab, "stats")
    assert stats["tcp_passive_opens"] >= 3
    assert stats["workers"] == 1
    assert "drop_total" in stats and "tcp_state_ESTABLISHED" in stats
    assert telemetry_client(lab, "/sluice/stats")["tcp_passive_opens"] >= 3

    workers = sluicectl_json(lab, "workers")
    assert set(workers) == {"0"} and workers["0"]["passive_opens"] >= 3
    listeners = sluicectl_json(lab, "listeners")
    assert sorted(v["port"] for v in listeners.values()) == [7, 80]
    assert {v["holder"] for v in listeners.values()} == {"service http", "service echo"}
    ports = sluicectl_json(lab, "ports")
    assert (ports["first_port"], ports["last_port"]) == (49152, 65535)
    assert ports["blocks_total"] == 256 and ports["worker_0_blocks"] == ports["blocks_lent"]
    assert "COUNTER" in sluicectl(lab, "stats").stdout

    stopped = lab.stop()
    assert stopped["tcp_passive_opens"] == stats["tcp_passive_opens"]


def echo_once(lab, port: int) -> str:
    script = (f"import socket; s = socket.create_connection(('{lab.engine_ip}', {port}), 5); "
              "s.sendall(b'ping'); print(s.recv(16).decode()); s.close()")
    return lab.run_in_ns("/usr/bin/python3", "-c", script).stdout.strip()


@pytest.mark.lab(engine_args=HTTP)
def test_listen_and_unlisten_at_run_time(lab):
    assert lab.run_in_ns("curl", "-sS", f"http://{lab.engine_ip}:8080/").returncode == 7, \
        "refused: nothing listens yet"

    # A clash names the holder; a bad service names what is allowed.
    clash = sluicectl(lab, "listen", "echo:80", check=False)
    assert clash.returncode == 1 and "service http" in clash.stderr
    bad = sluicectl(lab, "listen", "gopher:70", check=False)
    assert bad.returncode == 1 and "echo, discard, source, http" in bad.stderr

    assert "listening on port 8080" in sluicectl(lab, "listen", "http:8080").stdout
    r = lab.run_in_ns("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                      f"http://{lab.engine_ip}:8080/")
    assert r.stdout == "200"
    # Port 0: the registry picks one and says which.
    picked = sluicectl_json(lab, "listen", "echo:0")["port"]
    assert 1024 <= picked < 49152
    assert echo_once(lab, picked) == "ping"

    # Unlisten keeps established connections: one stays open across it.
    keep = lab.popen_in_ns("/usr/bin/python3", "-c",
                           f"import socket, sys, time; s = socket.create_connection(('{lab.engine_ip}', {picked}), 5); "
                           "s.sendall(b'a'); assert s.recv(1) == b'a'; print('open', flush=True); "
                           "sys.stdin.readline(); s.sendall(b'b'); print(s.recv(1).decode(), flush=True)",
                           stdin=subprocess.PIPE)
    assert keep.stdout.readline().strip() == "open"
    assert "no longer listening" in sluicectl(lab, "unlisten", str(picked)).stdout
    keep.stdin.write("\n")
    keep.stdin.flush()
    assert keep.stdout.readline().strip() == "b", "the established connection outlived unlisten"
    keep.wait(timeout=10)
    refused = lab.run_in_ns("/usr/bin/python3", "-c",
                            f"import socket; socket.create_connection(('{lab.engine_ip}', {picked}), 5)")
    assert "ConnectionRefusedError" in refused.stderr
    again = sluicectl(lab, "unlisten", str(picked), check=False)
    assert again.returncode == 1 and f"nothing listens on port {picked}" in again.stderr
    names = sorted(v["port"] for v in sluicectl_json(lab, "listeners").values())
    assert names == [7, 80, 8080]


def test_sluicectl_without_an_engine_says_so(tmp_path):
    env_dir = tmp_path / "run"
    env_dir.mkdir()
    proc = subprocess.run(["/usr/bin/python3", str(SLUICECTL), "stats"], capture_output=True,
                          text=True, timeout=30, env={"RUNTIME_DIRECTORY": str(env_dir),
                                                      "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    assert "no running sluice engine found" in proc.stderr
    proc = subprocess.run(["/usr/bin/python3", str(SLUICECTL), "-f", "nonesuch", "stats"],
                          capture_output=True, text=True, timeout=30,
                          env={"RUNTIME_DIRECTORY": str(env_dir), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1 and "--file-prefix nonesuch" in proc.stderr
