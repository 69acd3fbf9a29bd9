"""Fixtures for Sluice's interop tests: the engine against real Linux peers.

Each test gets a `lab`: a fresh network namespace (the peer), a veth pair whose namespace end
carries the peer address, and the engine on the root-namespace end through net_af_packet
(docs/architecture.md, "Running without a NIC"); or, with port="tap", a net_tap device handed to the
namespace (see Lab).  Everything a lab creates is torn down on every exit path: the fixture's
finally, an atexit net, and SIGTERM/SIGHUP turned into KeyboardInterrupt so those run too.

Peers: `lab.ping(...)`, `lab.run_in_ns(cmd...)` for any tool (curl, nc, ... for TCP later),
`lab.exchange(frames, stop=...)` to send crafted frames and sniff the answers with scapy.
Counters: `lab.stop()` (SIGINT) returns the engine's report as a dict.
Long-running peers: `lab.popen_in_ns(cmd...)` (killed with the lab).  An engine that stops by
itself (--connect, --duration): `lab.wait_engine_exit()`.  A second engine on the same network:
`lab.reset_engine()` after stopping the first, then `lab.start_engine(...)` again.

Options per test come from the `lab` marker:

    @pytest.mark.lab(vlan=7)                 # engine --vlan 7, peer address on a vlan sub-interface
    @pytest.mark.lab(engine_args=[...])      # extra engine options after --addr
    @pytest.mark.lab(port="tap")             # net_tap instead of net_af_packet (see Lab)
    @pytest.mark.lab(start_engine=False)     # the test calls lab.start_engine() itself

Run with /usr/bin/python3 (Debian's python3-scapy lives there), as root.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = "/usr/bin/python3"

READY_TIMEOUT = 30.0  # engine start-up: EAL init on a busy machine can be slow
STOP_TIMEOUT = 15.0  # SIGINT to exit; SIGKILL after that
COMMAND_TIMEOUT = 60.0  # any one peer command (ping, arping, a scapy run)

_PID = os.getpid()
_COUNTER = itertools.count(1)
_LIVE_LABS: "set[Lab]" = set()
_LIVE_LOCK = threading.Lock()


# --------------------------------------------------------------------------------------------
# Preconditions: fail loudly, never skip.


def engine_binary() -> Path:
    """The engine under test: $SLUICE_BIN, else build/control/sluice under the repository root.

    A relative $SLUICE_BIN is taken relative to the current directory, then to the repository
    root."""
    configured = os.environ.get("SLUICE_BIN")
    if configured:
        path = Path(configured)
        if not path.is_absolute() and not path.exists():
            path = REPO_ROOT / path
    else:
        path = REPO_ROOT / "build" / "control" / "sluice"
    return path.resolve()


def require_engine_binary() -> Path:
    path = engine_binary()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"sluice binary not found or not executable at {path}; build it "
            f"(meson setup build && ninja -C build) or point SLUICE_BIN at it",
            pytrace=False,
        )
    return path


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail(
            "interop tests create network namespaces and veth pairs: run them as root "
            "(sudo /usr/bin/python3 -m pytest tests/interop)",
            pytrace=False,
        )


def require_tools() -> None:
    missing = [t for t in ("ip", "ethtool", "ping", "arping") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing tools needed by the interop tests: {', '.join(missing)}",
                    pytrace=False)
    probe = subprocess.run([PYTHON, "-c", "import scapy.all"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail(f"{PYTHON} cannot import scapy (apt-get install python3-scapy): "
                    f"{probe.stderr.strip()[-300:]}", pytrace=False)


# --------------------------------------------------------------------------------------------
# Small process helpers.


def _run(cmd: list[str], *, check: bool = True,
         timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"command failed ({done.returncode}): {' '.join(cmd)}\n"
                           f"{done.stdout}{done.stderr}")
    return done


def _quiet(cmd: list[str]) -> None:
    """Best effort, for teardown: never raises."""
    try:
        subprocess.run(cmd, capture_output=True, timeout=30)
    except Exception:  # noqa: BLE001 - teardown must go on
        pass


def parse_counters(lines: list[str]) -> dict[str, int]:
    """`  name value` lines after `sluice: counters` (engine counters, then `port.*` xstats)."""
    counters: dict[str, int] = {}
    in_report = False
    for line in lines:
        if line.startswith("sluice: counters"):
            in_report = True
            continue
        if not in_report or not line.startswith("  "):
            continue
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counters[parts[0]] = int(parts[1])
    return counters


PING_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received")


@dataclass
class PingResult:
    transmitted: int
    received: int
    output: str
    returncode: int

    def replies_from(self, ip: str) -> int:
        return sum(1 for line in self.output.splitlines()
                   if re.search(rf"bytes from {re.escape(ip)}:", line))


# --------------------------------------------------------------------------------------------
# The scapy side.  Runs in the peer's namespace under /usr/bin/python3; frames are built by the
# tests (in this process) and passed as hex; captured frames come back as hex for the tests to
# dissect.  Protocol on stdout: "READY" once the sniffer's socket is open, then one JSON line.

SNIFF_SCRIPT = r"""
import json, socket, sys, threading, time
from scapy.all import AsyncSniffer, ARP, ICMP, conf
conf.verb = 0
cfg = json.loads(sys.argv[1])
stop = cfg.get("stop") or {}
found = threading.Event()
matches = [0]

def is_stop(p):
    kind = stop.get("kind")
    if kind == "icmp_reply":
        if (ICMP in p and p[ICMP].type == 0 and p[ICMP].id == stop["id"]
                and p[ICMP].seq == stop.get("seq", p[ICMP].seq)):
            found.set()
    elif kind == "arp_announce":
        if (ARP in p and p[ARP].op == 1 and p[ARP].psrc == stop["ip"]
                and p[ARP].pdst == stop["ip"]):
            matches[0] += 1
            if matches[0] >= stop["count"]:
                found.set()
    return False

started = threading.Event()
sniffer = AsyncSniffer(iface=cfg["iface"], store=True, prn=is_stop,
                       started_callback=started.set)
sniffer.start()
if not started.wait(20):
    print(json.dumps({"error": "sniffer did not start"}), flush=True)
    sys.exit(1)
time.sleep(cfg.get("settle", 0.5))  # the sniffer's socket is open; give its loop a moment
print("READY", flush=True)

if cfg.get("frames"):
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    tx.bind((cfg["iface"], 0))
    for h in cfg["frames"]:
        tx.send(bytes.fromhex(h))
        time.sleep(cfg.get("gap", 0.05))
    tx.close()

if stop:
    found.wait(cfg.get("max_seconds", 15))
    time.sleep(cfg.get("linger", 0.5))
else:
    time.sleep(cfg.get("max_seconds", 2))
packets = sniffer.stop() or []
print(json.dumps({
    "stopped_on_condition": found.is_set(),
    "frames": [{"time": float(p.time), "hex": bytes(p).hex()} for p in packets],
}), flush=True)
"""


@dataclass
class Capture:
    stopped_on_condition: bool
    frames: list  # scapy Ether packets, with .time set to the capture time

    def from_mac(self, mac: str) -> list:
        return [f for f in self.frames if f.src.lower() == mac.lower()]


def _decode_capture(stdout: str) -> Capture:
    from scapy.layers.l2 import Ether  # imported late: test_cli needs no scapy

    last = [line for line in stdout.splitlines() if line.startswith("{")]
    if not last:
        raise RuntimeError(f"scapy helper printed no result:\n{stdout}")
    result = json.loads(last[-1])
    if "error" in result:
        raise RuntimeError(f"scapy helper: {result['error']}")
    frames = []
    for entry in result["frames"]:
        packet = Ether(bytes.fromhex(entry["hex"]))
        packet.time = entry["time"]
        frames.append(packet)
    return Capture(result["stopped_on_condition"], frames)


class Sniffer:
    """A scapy sniffer (optionally also a sender) running in the lab's namespace."""

    def __init__(self, lab: "Lab", config: dict):
        self.lab = lab
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", lab.ns, PYTHON, "-c", SNIFF_SCRIPT, json.dumps(config)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        lab._helpers.append(self.proc)
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, False), daemon=True),
        ]
        for t in self._pumps:
            t.start()

    def _pump(self, stream, is_stdout: bool) -> None:
        for line in stream:
            (self._stdout if is_stdout else self._stderr).append(line)
            if is_stdout:
                self._lines.put(line)
        if is_stdout:
            self._lines.put(None)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError("scapy sniffer did not get ready in time")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(timeout=10)
                raise RuntimeError("scapy sniffer exited early:\n" + "".join(self._stderr))
            if line.strip() == "READY":
                return

    def result(self, timeout: float = COMMAND_TIMEOUT) -> Capture:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("scapy sniffer did not finish in time")
        for t in self._pumps:  # the pipes are at EOF once the process is gone
            t.join(timeout=10)
        if self.proc.returncode != 0:
            raise RuntimeError(f"scapy sniffer failed ({self.proc.returncode}):\n"
                               + "".join(self._stdout) + "".join(self._stderr))
        return _decode_capture("".join(self._stdout))


# --------------------------------------------------------------------------------------------
# The lab.


class Lab:
    """A namespace (the peer) linked to the engine, which runs in the root namespace.

    port="af_packet" (the default): a veth pair; the engine drives the root end through
    net_af_packet.  Note that DPDK's af_packet PMD joins a PACKET_FANOUT group with
    PACKET_FANOUT_FLAG_DEFRAG, so the kernel reassembles IPv4 fragments before the engine sees
    them: a lone fragment never reaches it.
    port="tap": the engine creates a tap device through net_tap, which is then moved into the
    namespace and becomes the peer's interface; frames reach the engine exactly as sent.  The
    engine's start-up announcements happen before the move and are not seen by the peer.
    """

    PORTS = ("af_packet", "tap")

    def __init__(self, vlan: Optional[int] = None, port: str = "af_packet"):
        if port not in self.PORTS:
            raise ValueError(f"port must be one of {self.PORTS}, not {port!r}")
        n = next(_COUNTER)
        self.n = n
        self.queues = 1  # rx/tx queue pairs and worker lcores (the lab marker's `queues`)
        self.vlan = vlan
        self.port = port
        self.ns = f"sluice-it-{_PID}-{n}"
        # Interface names are at most 15 characters: "sl" + pid (<= 7 digits) + tag + counter.
        self.engine_iface = f"sl{_PID}e{n}" if port == "af_packet" else None
        self.peer_base_iface = f"sl{_PID}p{n}"
        self.peer_iface = self.peer_base_iface  # becomes the vlan sub-interface if there is one
        self.vlan_iface: Optional[str] = None  # set when the kernel can make one (8021q)
        self.vlan_iface_error: Optional[str] = None
        for name in (self.engine_iface, self.peer_base_iface, f"sl{_PID}v{n}"):
            assert name is None or len(name) <= 15, name
        self.file_prefix = f"sluice-it-{_PID}-{n}"
        self.subnet = self._pick_subnet(n)
        self.peer_ip = f"{self.subnet}.1"
        self.engine_ip = f"{self.subnet}.2"
        self.broadcast_ip = f"{self.subnet}.255"
        self.engine_mac: Optional[str] = None
        self.peer_mac: Optional[str] = None
        self.ready_line: Optional[str] = None
        self.engine_args: list[str] = []
        self.counters: Optional[dict[str, int]] = None
        self.engine: Optional[subprocess.Popen] = None
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._ready = threading.Event()
        self._pumps: list[threading.Thread] = []
        self._helpers: list[subprocess.Popen] = []
        self._cleaned = False

    @staticmethod
    def _pick_subnet(n: int) -> str:
        """A 10.x.y.0/24 that no root-namespace interface uses (the engine's end has none)."""
        in_use = _run(["ip", "-4", "-o", "addr", "show"], check=False).stdout
        for k in range(1000):
            x = 100 + (_PID + k) % 150
            y = (n * 7 + k) % 250 + 1
            subnet = f"10.{x}.{y}"
            if f" {subnet}." not in in_use:
                return subnet
        raise RuntimeError("no free 10.x.y.0/24 subnet")

    # -- setup ---------------------------------------------------------------------------------

    def _ns(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run(["ip", "netns", "exec", self.ns, *cmd], check=check)

    def create_network(self) -> None:
        """The namespace and, for af_packet, the veth pair with the peer configured.  For tap,
        the peer side is configured once the engine has created the device."""
        with _LIVE_LOCK:
            _LIVE_LABS.add(self)
        _run(["ip", "netns", "add", self.ns])
        # IPv6 off in the namespace before any interface arrives: no router solicitations, MLD or
        # DAD noise for the engine to count.
        for key in ("all", "default"):
            self._ns("sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1", check=False)
        self._ns("ip", "link", "set", "lo", "up")
        if self.port != "af_packet":
            return
        _run(["ip", "link", "add", self.engine_iface, "type", "veth",
              "peer", "name", self.peer_base_iface, "netns", self.ns])
        # The root end belongs to the engine: the kernel there must stay silent and must not
        # forward what arrives on it (it has no address; frames for the engine reach it too).
        for setting in (f"net.ipv6.conf.{self.engine_iface}.disable_ipv6=1",
                        f"net.ipv4.conf.{self.engine_iface}.forwarding=0",
                        f"net.ipv4.conf.{self.engine_iface}.arp_ignore=8"):
            _run(["sysctl", "-qw", setting], check=False)
        _run(["ip", "link", "set", self.engine_iface, "up"])
        self._configure_peer()

    def _configure_peer(self) -> None:
        base = self.peer_base_iface
        self._ns("sysctl", "-qw", f"net.ipv6.conf.{base}.disable_ipv6=1", check=False)
        if self.port == "tap":
            # The tap device starts with the engine's own MAC; the peer needs its own.
            self._ns("ip", "link", "set", base, "address", f"02:5e:{self.n % 256:02x}:"
                     f"{(_PID >> 16) & 0xff:02x}:{(_PID >> 8) & 0xff:02x}:{_PID & 0xff:02x}")
        self._ns("ip", "link", "set", base, "up")
        # Partial checksums from the peer's offloads would reach the engine as "bad" checksums.
        self._ns("ethtool", "-K", base, "tx", "off", "rx", "off")
        if self.vlan:
            self._add_vlan_interface()
        self._ns("ip", "addr", "add", f"{self.peer_ip}/24", "dev", self.peer_iface)
        self.peer_mac = self._ns("cat", f"/sys/class/net/{self.peer_iface}/address"
                                 ).stdout.strip().lower()

    def _add_vlan_interface(self) -> None:
        """The peer's address on an 802.1Q sub-interface, when the kernel has 8021q.  Without
        it (a kernel with no modules) the address stays on the base interface, and VLAN tests
        use crafted tagged frames only: see vlan_iface_error."""
        name = f"sl{_PID}v{self.n}"
        made = self._ns("ip", "link", "add", "link", self.peer_base_iface, "name", name,
                        "type", "vlan", "id", str(self.vlan), check=False)
        if made.returncode != 0:
            self.vlan_iface_error = (made.stderr or made.stdout).strip()
            return
        self.vlan_iface = self.peer_iface = name
        self._ns("ethtool", "-K", name, "tx", "off", "rx", "off", check=False)
        # Strict reverse-path filtering: an untagged reply arriving on the base interface is
        # dropped instead of being accepted by the weak host model, so pings over the vlan
        # interface really prove the engine's replies are tagged.
        for key in ("all", self.peer_base_iface, name):
            self._ns("sysctl", "-qw", f"net.ipv4.conf.{key}.rp_filter=1")
        self._ns("ip", "link", "set", name, "up")

    def start_engine(self, extra_args: Optional[list[str]] = None,
                     binary: Optional[Path] = None) -> None:
        """Start the engine (or `binary`: a program of one's own on the SDK, which takes the same
        arguments and prints the same lines)."""
        binary = binary or require_engine_binary()
        assert self.engine is None, "engine already started"
        self.engine_args = ["--addr", f"{self.engine_ip}/24"]
        if self.vlan:
            self.engine_args += ["--vlan", str(self.vlan)]
        self.engine_args += list(extra_args or [])
        # queues > 1: one rx/tx queue pair per worker (af_packet's qpairs, a PACKET_FANOUT group),
        # and as many lcores; the engine's --workers must match.
        queues = self.queues
        if self.port == "af_packet":
            vdev = f"net_af_packet0,iface={self.engine_iface}"
            if queues > 1:
                vdev += f",qpairs={queues}"
        else:
            vdev = f"net_tap0,iface={self.peer_base_iface}"
        lcores = "0" if queues == 1 else f"0-{queues - 1}"
        cmd = [str(binary), "-l", lcores, "--no-huge", "-m", "256", "--no-pci",
               "--file-prefix", self.file_prefix,
               "--vdev", vdev, "--"] + self.engine_args
        self.engine = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, bufsize=1,
                                       start_new_session=True)
        for stream, sink in ((self.engine.stdout, self._stdout),
                             (self.engine.stderr, self._stderr)):
            t = threading.Thread(target=self._pump, args=(stream, sink), daemon=True)
            t.start()
            self._pumps.append(t)
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._ready.wait(0.1):
            if self.engine.poll() is not None:
                self._join_pumps()
                raise RuntimeError(f"sluice exited with {self.engine.returncode} before it "
                                   f"was ready\n{self.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"sluice printed no ready line within {READY_TIMEOUT:.0f} "
                                   f"s\n{self.output()}")
        match = re.search(r"\bmac ([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})\b", self.ready_line)
        if not match:
            raise RuntimeError(f"no mac in the ready line: {self.ready_line!r}")
        self.engine_mac = match.group(1).lower()
        expected = f"sluice: ready: {self.engine_ip}/24 on port "
        if not self.ready_line.startswith(expected):
            raise RuntimeError(f"unexpected ready line {self.ready_line!r}, wanted {expected}…")
        if self.port == "tap":
            # The engine made the device in the root namespace: hand it to the peer.
            _run(["ip", "link", "set", self.peer_base_iface, "netns", self.ns])
            self._configure_peer()

    def _pump(self, stream, sink: list[str]) -> None:
        for line in stream:
            line = line.rstrip("\n")
            sink.append(line)
            if line.startswith("sluice: ready:") and not self._ready.is_set():
                self.ready_line = line
                self._ready.set()

    def _join_pumps(self) -> None:
        for t in self._pumps:
            t.join(timeout=5)

    def output(self) -> str:
        return ("--- sluice stdout ---\n" + "\n".join(self._stdout) +
                "\n--- sluice stderr ---\n" + "\n".join(self._stderr[-40:]))

    # -- use -----------------------------------------------------------------------------------

    def run_in_ns(self, *cmd: str, timeout: float = COMMAND_TIMEOUT,
                  check: bool = False) -> subprocess.CompletedProcess:
        """Run a command in the peer's namespace; returns the CompletedProcess (text output)."""
        return _run(["ip", "netns", "exec", self.ns, *cmd], check=check, timeout=timeout)

    def ping(self, target: Optional[str] = None, *, count: int = 3, interval: float = 0.2,
             wait: float = 5, extra: tuple = ()) -> PingResult:
        target = target or self.engine_ip
        done = self.run_in_ns("ping", "-n", "-c", str(count), "-i", str(interval),
                              "-W", str(wait), *extra, target)
        match = PING_SUMMARY.search(done.stdout)
        if not match:
            raise RuntimeError(f"no summary in ping's output:\n{done.stdout}{done.stderr}")
        return PingResult(int(match.group(1)), int(match.group(2)),
                          done.stdout + done.stderr, done.returncode)

    def sniffer(self, *, frames: Optional[list[bytes]] = None, stop: Optional[dict] = None,
                iface: Optional[str] = None, max_seconds: float = 15,
                linger: float = 0.5) -> Sniffer:
        """Start a scapy AsyncSniffer on a peer interface (default: the veth end in the
        namespace), wait until it is sniffing, then let it send `frames` (raw bytes, in order).
        Collect with .result(). It stops when `stop` is met (plus `linger`) or after
        `max_seconds`; stop is {"kind": "icmp_reply", "id": N[, "seq": S]} or
        {"kind": "arp_announce", "ip": IP, "count": N}."""
        config = {"iface": iface or self.peer_base_iface,
                  "frames": [bytes(f).hex() for f in (frames or [])],
                  "stop": stop, "max_seconds": max_seconds, "linger": linger}
        sniffer = Sniffer(self, config)
        sniffer.wait_ready()
        return sniffer

    def exchange(self, frames: list[bytes], *, stop: Optional[dict] = None,
                 **kwargs) -> Capture:
        """Send frames from the peer's veth end and return everything sniffed there."""
        return self.sniffer(frames=frames, stop=stop, **kwargs).result()

    def stop(self) -> dict[str, int]:
        """SIGINT the engine, wait for it (SIGKILL after a timeout) and return its counters.

        Fails if the engine had already died, did not exit 0, or printed no counter report."""
        assert self.engine is not None, "engine not started"
        if self.counters is not None:
            return self.counters
        died_early = self.engine.poll() is not None
        if not died_early:
            self.engine.send_signal(signal.SIGINT)
        try:
            self.engine.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.engine.kill()
            self.engine.wait()
            self._join_pumps()
            raise AssertionError(f"sluice did not stop within {STOP_TIMEOUT:.0f} s of SIGINT; "
                                 f"killed\n{self.output()}")
        self._join_pumps()
        if died_early:
            raise AssertionError(f"sluice died before it was asked to stop "
                                 f"(status {self.engine.returncode})\n{self.output()}")
        if self.engine.returncode != 0:
            raise AssertionError(f"sluice exited with {self.engine.returncode} on SIGINT\n"
                                 f"{self.output()}")
        if "sluice: stopping" not in self._stdout:
            raise AssertionError(f"sluice did not print 'sluice: stopping'\n{self.output()}")
        counters = parse_counters(self._stdout)
        if "drop.total" not in counters:
            raise AssertionError(f"no counter report from sluice\n{self.output()}")
        self.counters = counters
        return counters

    # -- peers that run in the background, engines that stop by themselves ---------------------

    def popen_in_ns(self, *cmd: str, **popen_kwargs) -> subprocess.Popen:
        """Start a command in the peer's namespace without waiting for it (stdout and stderr are
        text pipes unless popen_kwargs say otherwise).  It runs in a session of its own and is
        killed with the lab if it is still running then."""
        kwargs = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE,
                  "stderr": subprocess.PIPE, "text": True}
        kwargs.update(popen_kwargs)
        kwargs["start_new_session"] = True
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns, *cmd], **kwargs)
        self._helpers.append(proc)
        return proc

    @property
    def engine_stdout(self) -> list[str]:
        """The engine's stdout so far, one string per line."""
        return list(self._stdout)

    def engine_output(self) -> list[str]:
        """Everything the engine printed so far, stdout then stderr (its log), one string per
        line."""
        return list(self._stdout) + list(self._stderr)

    def wait_engine_exit(self, timeout: float = COMMAND_TIMEOUT) -> int:
        """Wait for an engine that stops by itself (the --connect client, --duration) and return
        its exit status; its counter report, if it printed one, is in self.counters.  Kills it
        and raises AssertionError if it is still running after `timeout` seconds."""
        assert self.engine is not None, "engine not started"
        try:
            self.engine.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.engine.kill()
            self.engine.wait()
            self._join_pumps()
            raise AssertionError(f"sluice did not stop by itself within {timeout:.0f} s; "
                                 f"killed\n{self.output()}")
        self._join_pumps()
        self.counters = parse_counters(self._stdout)
        return self.engine.returncode

    def reset_engine(self) -> None:
        """Forget an engine that has exited (stop() or wait_engine_exit()), so that
        start_engine() can run a fresh one on the same namespace and veth pair."""
        assert self.engine is not None and self.engine.poll() is not None, \
            "reset_engine() needs an engine that has exited"
        self._join_pumps()
        self.engine = None
        self.counters = None
        self.ready_line = None
        self.engine_mac = None
        self._stdout = []
        self._stderr = []
        self._ready = threading.Event()
        self._pumps = []

    # -- teardown ------------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Idempotent; safe from any state, including a half-built lab."""
        if self._cleaned:
            return
        self._cleaned = True
        try:
            if self.engine is not None and self.engine.poll() is None:
                self.engine.kill()
                try:
                    self.engine.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            for proc in self._helpers:
                if proc.poll() is None:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        pass
            # Anything else still running in our namespace was started by this lab.
            try:
                pids = subprocess.run(["ip", "netns", "pids", self.ns], capture_output=True,
                                      text=True, timeout=10).stdout.split()
            except Exception:  # noqa: BLE001
                pids = []
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            _quiet(["ip", "netns", "del", self.ns])  # takes the peer end, and with it the pair
            for iface in (self.engine_iface, self.peer_base_iface):
                # A tap device vanishes with its engine; a veth end with its namespace.
                if iface and Path(f"/sys/class/net/{iface}").exists():
                    _quiet(["ip", "link", "del", iface])
            shutil.rmtree(f"/var/run/dpdk/{self.file_prefix}", ignore_errors=True)
        finally:
            with _LIVE_LOCK:
                _LIVE_LABS.discard(self)


def _cleanup_all_labs() -> None:
    with _LIVE_LOCK:
        labs = list(_LIVE_LABS)
    for lab in labs:
        lab.cleanup()


atexit.register(_cleanup_all_labs)


def _interrupt(signum, frame):  # noqa: ARG001
    # Turn SIGTERM/SIGHUP into the same path as Ctrl-C, so fixture finalizers and atexit run.
    raise KeyboardInterrupt(f"signal {signum}")


for _sig in (signal.SIGTERM, signal.SIGHUP):
    if signal.getsignal(_sig) in (signal.SIG_DFL, None):
        signal.signal(_sig, _interrupt)


# --------------------------------------------------------------------------------------------
# Fixtures.


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "lab(vlan=None, port='af_packet', engine_args=(), start_engine=True, queues=1): options for the "
        "`lab` fixture (conftest.py)")


@pytest.fixture(scope="session")
def sluice_bin() -> Path:
    """The engine binary under test (fails the test if it is missing)."""
    return require_engine_binary()


@pytest.fixture(scope="session")
def lab_preconditions():
    require_root()
    require_engine_binary()
    require_tools()


@pytest.fixture
def lab(request, lab_preconditions):
    """A fresh namespace + veth pair with the engine on its root end (see the module doc)."""
    marker = request.node.get_closest_marker("lab")
    options = dict(marker.kwargs) if marker else {}
    unknown = set(options) - {"vlan", "port", "engine_args", "start_engine", "queues"}
    if unknown:
        pytest.fail(f"unknown lab marker options: {sorted(unknown)}", pytrace=False)
    the_lab = Lab(vlan=options.get("vlan"), port=options.get("port", "af_packet"))
    the_lab.queues = int(options.get("queues", 1))
    try:
        the_lab.create_network()
        if options.get("start_engine", True):
            the_lab.start_engine(list(options.get("engine_args", ())))
        yield the_lab
    finally:
        the_lab.cleanup()
