#!/usr/bin/python3
"""What --idle adaptive costs and saves: the engine's CPU while nothing arrives, and the round
trip of a Linux client at C=1, for --idle poll and --idle adaptive, on the same veth.

    sudo /usr/bin/python3 bench/idle/idle_cost.py [--rounds 5000] [--idle-seconds 5]

The engine (build/control/sluice, or $SLUICE_BIN) runs the echo service on net_af_packet over one
end of a veth pair; a python client in a namespace on the other end sends one byte and waits for
it, over one connection: back to back (the engine never goes quiet), then spaced 10 ms apart
(every request finds an engine that has gone back to sleep, the adaptive mode's worst case).
Prints one table; writes idle-cost.json in the current directory. Everything it creates (the
namespace, the veth, the engine) is removed on every exit path.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NS, ENGINE_IF, PEER_IF = f"sl-idle-{os.getpid()}", f"sli{os.getpid() % 100000}", f"slp{os.getpid() % 100000}"
ENGINE_IP, PEER_IP = "10.231.0.2", "10.231.0.1"
TICKS = os.sysconf("SC_CLK_TCK")

CLIENT = r"""
import json, socket, sys, time
cfg = json.loads(sys.argv[1])
s = socket.create_connection((cfg["ip"], 7), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
out = {}
for name, gap in (("back_to_back", 0.0), ("spaced_10ms", 0.01)):
    rtts = []
    for _ in range(cfg["rounds"] if gap == 0 else cfg["rounds"] // 10):
        if gap:
            time.sleep(gap)
        t = time.perf_counter_ns()
        s.sendall(b"x")
        if s.recv(1) != b"x":
            raise SystemExit("wrong echo")
        rtts.append((time.perf_counter_ns() - t) / 1000)
    rtts.sort()
    out[name] = {"p50_us": rtts[len(rtts) // 2], "p99_us": rtts[int(len(rtts) * 0.99)],
                 "n": len(rtts)}
s.close()
print(json.dumps(out))
"""


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise SystemExit(f"{cmd[:6]} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return done


def cleanup() -> None:
    run("ip", "netns", "del", NS, check=False)
    run("ip", "link", "del", ENGINE_IF, check=False)


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def measure(binary: Path, idle: str, a: argparse.Namespace) -> dict:
    prefix = f"sl-idle-{os.getpid()}-{idle}"
    engine = subprocess.Popen(
        [str(binary), "-l", "0", "--no-huge", "-m", "256", "--no-pci", "--file-prefix", prefix,
         "--vdev", f"net_af_packet0,iface={ENGINE_IF}", "--", "--addr", f"{ENGINE_IP}/24",
         "--serve", "echo:7", "--idle", idle],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        while "sluice: ready" not in (engine.stdout.readline() or "sluice: ready"):
            pass
        if engine.poll() is not None:
            raise SystemExit(f"the engine exited with {engine.returncode}")
        time.sleep(1)
        before, start = cpu_seconds(engine.pid), time.monotonic()
        time.sleep(a.idle_seconds)
        idle_share = (cpu_seconds(engine.pid) - before) / (time.monotonic() - start)
        done = run("ip", "netns", "exec", NS, "/usr/bin/python3", "-c", CLIENT,
                   json.dumps({"ip": ENGINE_IP, "rounds": a.rounds}))
        return {"idle": idle, "cpu_share_idle": round(idle_share, 3), **json.loads(done.stdout)}
    finally:
        engine.send_signal(2)
        try:
            engine.wait(timeout=15)
        except subprocess.TimeoutExpired:
            engine.kill()
            engine.wait()
        subprocess.run(["rm", "-rf", f"/var/run/dpdk/{prefix}"], check=False)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5000, help="back-to-back round trips")
    p.add_argument("--idle-seconds", type=float, default=5.0, help="how long CPU is sampled")
    a = p.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("run as root: it makes a namespace and a veth pair")
    binary = Path(os.environ.get("SLUICE_BIN", ROOT / "build" / "control" / "sluice"))
    atexit.register(cleanup)
    run("ip", "netns", "add", NS)
    run("ip", "link", "add", ENGINE_IF, "type", "veth", "peer", "name", PEER_IF)
    run("ip", "link", "set", PEER_IF, "netns", NS)
    run("sysctl", "-qw", f"net.ipv6.conf.{ENGINE_IF}.disable_ipv6=1")
    run("ip", "link", "set", ENGINE_IF, "up")
    run("ip", "netns", "exec", NS, "ip", "addr", "add", f"{PEER_IP}/24", "dev", PEER_IF)
    # Linux would leave checksums to an offload the far end (af_packet) does not do.
    run("ip", "netns", "exec", NS, "ethtool", "-K", PEER_IF, "tx", "off", "rx", "off")
    run("ip", "netns", "exec", NS, "ip", "link", "set", PEER_IF, "up")
    rows = [measure(binary, idle, a) for idle in ("poll", "adaptive")]
    print("| --idle | CPU while idle (share of a core) | back to back p50 / p99 (us) | "
          "spaced 10 ms p50 / p99 (us) |")
    print("|---|---|---|---|")
    for r in rows:
        b, s = r["back_to_back"], r["spaced_10ms"]
        print(f"| {r['idle']} | {r['cpu_share_idle']:.3f} | {b['p50_us']:.0f} / {b['p99_us']:.0f} "
              f"| {s['p50_us']:.0f} / {s['p99_us']:.0f} |")
    Path("idle-cost.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
