"""A lossy-link lab: a Linux peer and a TCP stack under test, with sluice-faultbridge between them.

    namespace L                 root namespace                                 far side
    ┌──────────┐  veth  ┌──────────────────────────────────────┐  veth  ┌────────────────────┐
    │ l  .1/24 ├────────┤ a  = port A    sluice-faultbridge    │        │ e : Sluice         │
    └──────────┘        │               (a->b "to_far" profile,├────────┤ (net_af_packet,    │
                        │ b  = port B    b->a "to_near")       │ b    e │  .2/24, root ns)   │
                        └──────────────────────────────────────┘        │  or Linux in       │
                                                                        │  namespace R, .2/24│
                                                                        └────────────────────┘

The near side is always Linux (namespace L).  The far side is the stack under test: the Sluice
engine on net_af_packet over the far veth end (far="sluice"), or Linux with that end moved into
a second namespace R (far="linux"), for a Linux-to-Linux comparison through the same bridge, the
same profiles and the same seeds.  The bridge and the engine are separate DPDK processes, each
with its own --file-prefix; the bridge polls on core 1, the engine on core 0.  Every veth end the
kernel must not speak on (the bridge's two, the engine's) has no address, no IPv6, no ARP answers.

One transfer is an echo of N bytes (N each way at once), every byte checked by SHA-256:

  direction "near-client": a Linux client in L sends N bytes (seeded random, so a misplaced block
      shows) to the far side's echo server (Sluice --serve echo:7, or a python echo server in R),
      half-closes and reads the echo to EOF.  Timed by the client: connect to EOF.
  direction "far-client": the far side's client (Sluice --connect, which sends its test pattern,
      half-closes and checks the echo byte for byte; or a python client in R sending the same
      pattern) connects to a python echo server in L, which hashes what it gets.  Timed by that
      server: accept to the client's FIN after its own (all the echo delivered).

Goodput is N bytes over that elapsed time (each direction carried N bytes in it).  Retransmission
counts: Sluice's exit counters (tcp_retransmitted_segments over tcp_segments_sent, which counts
every segment sent, retransmissions and pure ACKs included); Linux's /proc/net/snmp and
/proc/net/netstat read inside its namespace before and after (RetransSegs over OutSegs +
RetransSegs, since Linux's OutSegs leaves retransmissions out).  D-SACKs received by a sender
(Sluice tcp_dsack_received, Linux TcpExt TCPDSACKRecv) count its spurious retransmissions, as
the bridge neither duplicates nor corrupts unless a profile asks it to.

Use:

    with LossyLab("sluice") as lab:
        r = lab.transfer("near-client", 4 << 20, *profiles(loss=0.05, reorder=0.1, seed=7))
        print(r.elapsed, r.goodput_mbps, r.far_retrans_ratio, r.bridge)

Run as root with /usr/bin/python3.  Binaries: $SLUICE_BIN (default build/control/sluice),
$SLUICE_FAULTBRIDGE_BIN (default: drivers/sluice-faultbridge beside the engine's build).
Everything a lab creates (namespaces, veths, processes, DPDK runtime dirs) goes on every exit
path: cleanup() in a finally or `with`, plus an atexit net.
"""

from __future__ import annotations

import atexit
import hashlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = "/usr/bin/python3"  # Debian's interpreter, which has scapy (docs/architecture.md)

FARS = ("sluice", "linux")
DIRECTIONS = ("near-client", "far-client")

READY_TIMEOUT = 40.0  # EAL start-up on a busy two-core machine
STOP_TIMEOUT = 20.0
COMMAND_TIMEOUT = 60.0
ECHO_PORT = 7  # the far side's echo server (Sluice's and R's)
NEAR_PORT = 5001  # L's echo server, for the far side's client
LINUX_CC = "cubic"  # every Linux socket's congestion control

PATTERN = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

_PID = os.getpid()
_COUNTER = itertools.count(1)
_LIVE: "set[LossyLab]" = set()
_LIVE_LOCK = threading.Lock()


def sluice_binary() -> Path:
    configured = os.environ.get("SLUICE_BIN")
    path = Path(configured) if configured else REPO_ROOT / "build" / "control" / "sluice"
    if not path.is_absolute() and not path.exists():
        path = REPO_ROOT / path
    return path.resolve()


def bridge_binary(sluice: Optional[Path] = None) -> Path:
    configured = os.environ.get("SLUICE_FAULTBRIDGE_BIN")
    if configured:
        path = Path(configured)
        if not path.is_absolute() and not path.exists():
            path = REPO_ROOT / path
        return path.resolve()
    sluice = sluice or sluice_binary()
    return (sluice.parent.parent / "drivers" / "sluice-faultbridge").resolve()


def pattern_sha256(n: int) -> str:
    """SHA-256 of the engine's test pattern, PATTERN[i % 64] at stream offset i."""
    h = hashlib.sha256()
    block = PATTERN * 16384  # 1 MiB, a multiple of 64
    left = n
    while left >= len(block):
        h.update(block)
        left -= len(block)
    h.update(block[:left])
    return h.hexdigest()


def profiles(loss: float = 0.0, reorder: float = 0.0, seed: int = 1, *,
             reorder_delay: str = "2ms", delay: Optional[str] = None,
             extra: str = "") -> tuple[str, str]:
    """(to_far, to_near) profile strings for a symmetric impairment.  The way back draws from
    seed + 1, as the bridge's --both does: with one seed both directions would lose the same
    frame numbers."""
    def one(s: int) -> str:
        parts = []
        if loss:
            parts.append(f"loss={loss:g}")
        if reorder:
            parts.append(f"reorder={reorder:g}:{reorder_delay}")
        if delay:
            parts.append(f"delay={delay}")
        if extra:
            parts.append(extra)
        parts.append(f"seed={s}")
        return ",".join(parts)
    return one(seed), one(seed + 1)


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
    try:
        subprocess.run(cmd, capture_output=True, timeout=30)
    except Exception:  # noqa: BLE001 - teardown goes on
        pass


class Proc:
    """A child in a session of its own, its stdout and stderr collected line by line."""

    def __init__(self, cmd: list[str], name: str):
        self.name = name
        self.cmd = cmd
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._cond = threading.Condition()
        self.popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, bufsize=1,
                                      start_new_session=True)
        self._pumps = [threading.Thread(target=self._pump, args=(s, sink), daemon=True)
                       for s, sink in ((self.popen.stdout, self.stdout),
                                       (self.popen.stderr, self.stderr))]
        for t in self._pumps:
            t.start()

    def _pump(self, stream, sink: list[str]) -> None:
        for line in stream:
            with self._cond:
                sink.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_line(self, match: Callable[[str], bool], timeout: float) -> str:
        """The first stdout line that matches; RuntimeError if the process exits or time runs
        out first."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                while seen < len(self.stdout):
                    line = self.stdout[seen]
                    seen += 1
                    if match(line):
                        return line
                if self.popen.poll() is not None:
                    self._cond.wait(0.2)  # let the pumps drain
                    if seen >= len(self.stdout):
                        raise RuntimeError(f"{self.name} exited with {self.popen.returncode} "
                                           f"before it was ready\n{self.output()}")
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RuntimeError(f"{self.name}: no ready line within {timeout:.0f} s\n"
                                       f"{self.output()}")
                self._cond.wait(min(remaining, 0.2))

    def join(self) -> None:
        for t in self._pumps:
            t.join(timeout=5)

    def wait(self, timeout: float) -> Optional[int]:
        """Exit status, or None if it is still running after timeout."""
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self.join()
        return self.popen.returncode

    def interrupt(self, timeout: float = STOP_TIMEOUT) -> tuple[Optional[int], bool]:
        """SIGINT, wait; SIGKILL if it does not go.  (status, killed)."""
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(signal.SIGINT)
            except ProcessLookupError:
                pass
        status = self.wait(timeout)
        if status is None:
            self.kill()
            return self.popen.returncode, True
        return status, False

    def kill(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.join()

    def output(self, tail: int = 60) -> str:
        return (f"--- {self.name} stdout ---\n" + "\n".join(self.stdout[-tail:]) +
                f"\n--- {self.name} stderr ---\n" + "\n".join(self.stderr[-tail:]))


def parse_sluice_counters(lines: list[str]) -> dict[str, int]:
    """`  name value` lines after `sluice: counters` (as tests/interop/conftest.py reads them)."""
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


BRIDGE_COUNTS = re.compile(r"^(a->b|b->a): (\w+=\d+(?: \w+=\d+)*)$")


def parse_bridge_counters(lines: list[str]) -> dict[str, dict[str, int]]:
    """The bridge's exit report: {"to_far": {...}, "to_near": {...}} (a->b is L to the far
    side, b->a the way back)."""
    out: dict[str, dict[str, int]] = {}
    for line in lines:
        m = BRIDGE_COUNTS.match(line)
        if m:
            key = "to_far" if m.group(1) == "a->b" else "to_near"
            out[key] = {k: int(v) for k, v in (kv.split("=") for kv in m.group(2).split())}
    return out


def parse_snmp(text: str) -> dict[str, int]:
    """/proc/net/snmp + /proc/net/netstat: header/value line pairs -> {"Tcp.OutSegs": n, ...}."""
    out: dict[str, int] = {}
    lines = text.splitlines()
    for head, vals in zip(lines, lines[1:]):
        h, v = head.split(), vals.split()
        if not h or not v or h[0] != v[0] or not h[0].endswith(":"):
            continue
        if all(x.lstrip("-").isdigit() for x in v[1:]) and not all(
                x.lstrip("-").isdigit() for x in h[1:]):
            prefix = h[0][:-1]
            for k, x in zip(h[1:], v[1:]):
                out[f"{prefix}.{k}"] = int(x)
    return out


# --------------------------------------------------------------------------------------------
# Peer programs (python, in a namespace).  Last stdout line: one JSON object.

PEER = r"""
import hashlib, json, random, socket, sys, threading, time
cfg = json.loads(sys.argv[1])
PATTERN = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
def out(**r):
    print(json.dumps(r), flush=True)
    sys.exit(0)
def set_cc(s):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cfg["cc"].encode())
def get_cc(s):
    return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).split(b"\0")[0].decode()
if cfg["role"] == "echo-server":
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    set_cc(l)  # accepted connections inherit it
    l.bind((cfg["ip"], cfg["port"]))
    l.listen(1)
    l.settimeout(cfg["accept_timeout"])
    print("LISTENING", flush=True)
    try:
        c, peer = l.accept()
    except Exception as e:
        out(error="accept: " + repr(e), received=0)
    t0 = time.monotonic()
    cc = get_cc(c)
    c.settimeout(cfg["io_timeout"])
    h = hashlib.sha256()
    n = 0
    try:
        while True:
            b = c.recv(1 << 16)
            if not b:
                break
            h.update(b)
            n += len(b)
            c.sendall(b)
        c.shutdown(socket.SHUT_WR)
        tail = c.recv(1)  # the client closes after our FIN: EOF, not data
    except Exception as e:
        out(error=repr(e), received=n, sha=h.hexdigest(), elapsed=time.monotonic() - t0)
    elapsed = time.monotonic() - t0
    c.close()
    out(error=None, received=n, sha=h.hexdigest(), elapsed=elapsed, tail=len(tail), peer=peer[0],
        cc=cc)
else:  # client
    n = cfg["bytes"]
    if cfg["data"] == "pattern":
        data = (PATTERN * (n // 64 + 1))[:n]
    else:
        data = random.Random(cfg["seed"]).randbytes(n)
    sent_sha = hashlib.sha256(data).hexdigest()
    t0 = time.monotonic()
    try:
        s = socket.socket()
        set_cc(s)
        s.settimeout(cfg["io_timeout"])
        s.connect((cfg["ip"], cfg["port"]))
    except Exception as e:
        out(error="connect: " + repr(e), received=0, sent_sha=sent_sha)
    cc = get_cc(s)
    s.settimeout(cfg["io_timeout"])
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
            error.append("recv: " + repr(e))
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    view = memoryview(data)
    try:
        for i in range(0, n, 1 << 16):
            s.sendall(view[i:i + (1 << 16)])
        s.shutdown(socket.SHUT_WR)
    except Exception as e:
        error.append("send: " + repr(e))
    t.join(cfg["total_timeout"])
    elapsed = time.monotonic() - t0
    if t.is_alive():
        error.append("reader still running after the time allowed")
    s.close()
    out(error="; ".join(error) or None, sent_sha=sent_sha, received=received[0],
        received_sha=got.hexdigest(), elapsed=elapsed, cc=cc)
"""


def _peer_json(proc: Proc) -> Optional[dict]:
    lines = [line for line in proc.stdout if line.startswith("{")]
    return json.loads(lines[-1]) if lines else None


# --------------------------------------------------------------------------------------------
# Results.


@dataclass
class TransferResult:
    far: str                  # "sluice" or "linux"
    direction: str            # "near-client" or "far-client"
    nbytes: int
    to_far: str               # the bridge's profiles
    to_near: str
    congestion: str           # the far side's algorithm
    ok: bool = False
    failure: Optional[str] = None
    elapsed: Optional[float] = None      # seconds
    goodput_mbps: Optional[float] = None  # nbytes * 8 / elapsed / 1e6
    wall: Optional[float] = None         # the whole run, start-ups included
    far_retrans: Optional[int] = None    # segments the far side retransmitted
    far_sent: Optional[int] = None       # segments it sent, retransmissions included
    far_dsack_received: Optional[int] = None  # its spurious retransmissions, as the peer saw them
    near_retrans: Optional[int] = None
    near_sent: Optional[int] = None
    near_dsack_received: Optional[int] = None
    far_counters: dict = field(default_factory=dict)   # Sluice's exit counters, or R's deltas
    near_counters: dict = field(default_factory=dict)  # L's /proc deltas (the TCP ones)
    bridge: dict = field(default_factory=dict)         # {"to_far": {...}, "to_near": {...}}
    peer: dict = field(default_factory=dict)           # the python peer's JSON
    log: str = ""                                      # outputs, kept when something failed

    @property
    def far_retrans_ratio(self) -> Optional[float]:
        if self.far_retrans is None or not self.far_sent:
            return None
        return self.far_retrans / self.far_sent

    @property
    def near_retrans_ratio(self) -> Optional[float]:
        if self.near_retrans is None or not self.near_sent:
            return None
        return self.near_retrans / self.near_sent

    def as_dict(self, with_log: bool = False) -> dict:
        d = asdict(self)
        d["far_retrans_ratio"] = self.far_retrans_ratio
        d["near_retrans_ratio"] = self.near_retrans_ratio
        if not with_log:
            d.pop("log")
        return d

    def describe(self) -> str:
        """One paragraph for an assertion message or a failure line."""
        keys = ("tcp_segments_sent", "tcp_retransmitted_segments", "tcp_fast_retransmits",
                "tcp_timeouts", "tcp_recoveries", "tcp_recoveries_undone", "tcp_spurious_timeouts",
                "tcp_partial_acks", "tcp_sack_blocks_sent", "tcp_sack_blocks_received", "tcp_dsack_sent", "tcp_dsack_received",
                "tcp_lost_retransmissions", "tcp_tail_loss_probes", "tcp_out_of_order_segments",
                "tcp_resets_sent", "tcp_resets_received", "tcp_connect_failures",
                "drop.total")
        if self.far == "sluice":
            far = {k: self.far_counters.get(k) for k in keys if k in self.far_counters}
            far.update({k: v for k, v in self.far_counters.items()
                        if k.startswith("drop.") and v and k != "drop.total"})
        else:
            far = self.far_counters
        return (f"far={self.far} direction={self.direction} bytes={self.nbytes} "
                f"congestion={self.congestion}\n  profiles: to_far {self.to_far!r}, to_near "
                f"{self.to_near!r}\n  ok={self.ok} failure={self.failure}\n  elapsed="
                f"{self.elapsed} goodput_mbps={self.goodput_mbps}\n  far counters: {far}\n"
                f"  near (Linux L) counters: {self.near_counters}\n  bridge: {self.bridge}\n"
                f"  peer: {self.peer}")


# --------------------------------------------------------------------------------------------
# The lab.


class LossyLab:
    """The topology in the module doc, built once and reused by many transfers (each starts its
    own bridge, and its own engine when the far side is Sluice)."""

    def __init__(self, far: str = "sluice", *, sluice_bin: Optional[Path] = None,
                 bridge_bin: Optional[Path] = None, engine_core: int = 0,
                 bridge_core: int = 1, verbose: bool = False):
        if far not in FARS:
            raise ValueError(f"far must be one of {FARS}, not {far!r}")
        self.far = far
        self.sluice_bin = Path(sluice_bin) if sluice_bin else sluice_binary()
        self.bridge_bin = Path(bridge_bin) if bridge_bin else bridge_binary(self.sluice_bin)
        for b in ((self.bridge_bin,) if far == "linux" else (self.sluice_bin, self.bridge_bin)):
            if not (b.is_file() and os.access(b, os.X_OK)):
                raise RuntimeError(f"{b} is missing or not executable; build it (see "
                                   f"bench/lossy/README.md) or set SLUICE_BIN / "
                                   f"SLUICE_FAULTBRIDGE_BIN")
        self.engine_core = engine_core
        self.bridge_core = bridge_core
        self.verbose = verbose
        n = next(_COUNTER)
        self.n = n
        tag = f"{_PID}x{n}"
        self.ns_near = f"sluice-lossy-{tag}-L"
        self.ns_far = f"sluice-lossy-{tag}-R" if far == "linux" else None
        # At most 15 characters: "sq" + pid (<= 7 digits) + role letter + counter.
        self.if_near = f"sq{_PID}l{n}"   # in L
        self.if_a = f"sq{_PID}a{n}"      # bridge port A (root)
        self.if_b = f"sq{_PID}b{n}"      # bridge port B (root)
        self.if_far = f"sq{_PID}e{n}"    # the engine's port (root), or Linux's end in R
        for name in (self.if_near, self.if_a, self.if_b, self.if_far):
            assert len(name) <= 15, name
        self.prefix = f"sluice-lossy-{tag}"
        self.subnet = self._pick_subnet(n)
        self.near_ip = f"{self.subnet}.1"
        self.far_ip = f"{self.subnet}.2"
        self._procs: list[Proc] = []
        self._runs = itertools.count(1)
        self.fanout_retries = 0  # DPDK processes started again after a PACKET_FANOUT clash
        self._created = False
        self._cleaned = False

    @staticmethod
    def _pick_subnet(n: int) -> str:
        in_use = _run(["ip", "-4", "-o", "addr", "show"], check=False).stdout
        for ns in _run(["ip", "netns", "list"], check=False).stdout.split("\n"):
            name = ns.split()[0] if ns.split() else ""
            if name:
                in_use += _run(["ip", "netns", "exec", name, "ip", "-4", "-o", "addr", "show"],
                               check=False).stdout
        for k in range(1000):
            x = 100 + (_PID * 3 + n + k) % 150
            subnet = f"10.{x}.0"
            if f" {subnet}." not in in_use:
                return subnet
            subnet = f"10.{x}.{(n + k) % 250 + 1}"
            if f" {subnet}." not in in_use:
                return subnet
        raise RuntimeError("no free 10.x.y.0/24 subnet")

    def __enter__(self) -> "LossyLab":
        try:
            self.create()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()

    # -- set-up --------------------------------------------------------------------------------

    def _ns(self, ns: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run(["ip", "netns", "exec", ns, *cmd], check=check)

    def _silent_root_end(self, iface: str) -> None:
        for setting in (f"net.ipv6.conf.{iface}.disable_ipv6=1",
                        f"net.ipv4.conf.{iface}.forwarding=0",
                        f"net.ipv4.conf.{iface}.arp_ignore=8"):
            _run(["sysctl", "-qw", setting], check=False)
        _run(["ip", "link", "set", iface, "up"])

    def _linux_namespace(self, ns: str) -> None:
        _run(["ip", "netns", "add", ns])
        for key in ("all", "default"):
            self._ns(ns, "sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1", check=False)
        self._ns(ns, "ip", "link", "set", "lo", "up")
        # The sender's algorithm, said explicitly; no metrics cached between runs (each run
        # starts from the same state); socket buffers that autotuning may grow to 16 MiB.
        # The namespace's default can only be one of the root's tcp_allowed_congestion_control
        # (EPERM otherwise, and that list is the machine's, not ours to widen): every socket
        # of the peer programs also asks for cubic itself (TCP_CONGESTION, as root may), and
        # reports what it got.
        self._ns(ns, "sysctl", "-qw", "net.ipv4.tcp_congestion_control=cubic", check=False)
        self._ns(ns, "sysctl", "-qw", "net.ipv4.tcp_no_metrics_save=1")
        self._ns(ns, "sysctl", "-qw", "net.ipv4.tcp_rmem=4096 131072 16777216")
        self._ns(ns, "sysctl", "-qw", "net.ipv4.tcp_wmem=4096 65536 16777216")

    def _linux_end(self, ns: str, iface: str, ip: str) -> None:
        self._ns(ns, "sysctl", "-qw", f"net.ipv6.conf.{iface}.disable_ipv6=1", check=False)
        self._ns(ns, "ip", "link", "set", iface, "up")
        # Partial checksums from offloads would reach the bridge and the engine as bad ones.
        self._ns(ns, "ethtool", "-K", iface, "tx", "off", "rx", "off")
        self._ns(ns, "ip", "addr", "add", f"{ip}/24", "dev", iface)

    def create(self) -> None:
        assert not self._created
        self._created = True
        with _LIVE_LOCK:
            _LIVE.add(self)
        self._linux_namespace(self.ns_near)
        if self.ns_far:
            self._linux_namespace(self.ns_far)
        _run(["ip", "link", "add", self.if_a, "type", "veth", "peer", "name", self.if_near,
              "netns", self.ns_near])
        if self.ns_far:
            _run(["ip", "link", "add", self.if_b, "type", "veth", "peer", "name", self.if_far,
                  "netns", self.ns_far])
        else:
            _run(["ip", "link", "add", self.if_b, "type", "veth", "peer", "name", self.if_far])
        for iface in (self.if_a, self.if_b) + (() if self.ns_far else (self.if_far,)):
            self._silent_root_end(iface)
        self._linux_end(self.ns_near, self.if_near, self.near_ip)
        if self.ns_far:
            self._linux_end(self.ns_far, self.if_far, self.far_ip)

    # -- teardown ------------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Idempotent; safe from any state, a half-built lab included."""
        if self._cleaned:
            return
        self._cleaned = True
        try:
            for p in self._procs:
                p.kill()
            for ns in (self.ns_near, self.ns_far):
                if not ns:
                    continue
                try:
                    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                          text=True, timeout=10).stdout.split()
                except Exception:  # noqa: BLE001
                    pids = []
                for pid in pids:
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except (ProcessLookupError, ValueError):
                        pass
                _quiet(["ip", "netns", "del", ns])
            for iface in (self.if_a, self.if_b, self.if_far):
                if Path(f"/sys/class/net/{iface}").exists():
                    _quiet(["ip", "link", "del", iface])
            for d in Path("/var/run/dpdk").glob(f"{self.prefix}-*"):
                shutil.rmtree(d, ignore_errors=True)
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(self)

    # -- pieces of a run -----------------------------------------------------------------------

    def _start(self, cmd: list[str], name: str) -> Proc:
        p = Proc(cmd, name)
        self._procs.append(p)
        return p

    def _forget(self, p: Proc) -> None:
        if p in self._procs:
            self._procs.remove(p)

    def _start_dpdk(self, make_cmd: Callable[[int], list[str]], name: str,
                    ready: Callable[[str], bool]) -> Proc:
        """Start a DPDK process and wait for its ready line.  DPDK's af_packet PMD names its
        PACKET_FANOUT group (pid ^ ifindex) & 0xffff, and groups are shared by the whole
        namespace: when another process's socket on another interface already has that number
        (pids and ifindexes are both small and close together, so it happens), the kernel
        refuses with EINVAL and the port is not created.  A new process has a new pid: try
        again, a few times, for that failure only."""
        for attempt in range(4):
            p = self._start(make_cmd(attempt), name)
            try:
                p.wait_line(ready, READY_TIMEOUT)
                self.fanout_retries += attempt
                return p
            except RuntimeError:
                p.kill()
                self._forget(p)
                if attempt == 3 or not any("could not set PACKET_FANOUT" in line
                                           for line in p.stderr):
                    raise
        raise AssertionError("unreachable")

    def _start_bridge(self, run: int, to_far: str, to_near: str) -> Proc:
        def cmd(attempt: int) -> list[str]:
            return [str(self.bridge_bin), "-l", str(self.bridge_core), "--no-huge", "-m", "256",
                    "--no-pci", "--file-prefix", f"{self.prefix}-bridge{run}-{attempt}",
                    "--vdev", f"net_af_packet0,iface={self.if_a}",
                    "--vdev", f"net_af_packet1,iface={self.if_b}",
                    "--", "--port-a", "net_af_packet0", "--port-b", "net_af_packet1",
                    "--a-to-b", to_far, "--b-to-a", to_near]
        return self._start_dpdk(cmd, "sluice-faultbridge",
                                lambda line: line.startswith("sluice-faultbridge: b->a"))

    def _start_engine(self, run: int, args: list[str]) -> Proc:
        def cmd(attempt: int) -> list[str]:
            return [str(self.sluice_bin), "-l", str(self.engine_core), "--no-huge", "-m", "256",
                    "--no-pci", "--file-prefix", f"{self.prefix}-engine{run}-{attempt}",
                    "--vdev", f"net_af_packet0,iface={self.if_far}", "--",
                    "--addr", f"{self.far_ip}/24", *args]
        return self._start_dpdk(cmd, "sluice", lambda line: line.startswith("sluice: ready:"))

    def _peer(self, ns: str, cfg: dict, name: str) -> Proc:
        return self._start(["ip", "netns", "exec", ns, PYTHON, "-c", PEER, json.dumps(cfg)],
                           name)

    def snmp(self, ns: str) -> dict[str, int]:
        text = self._ns(ns, "cat", "/proc/net/snmp", "/proc/net/netstat").stdout
        return parse_snmp(text)

    # -- one transfer --------------------------------------------------------------------------

    def transfer(self, direction: str, nbytes: int, to_far: str = "seed=1",
                 to_near: str = "seed=2", *, congestion: str = "cubic",
                 engine_args: tuple = (), timeout: float = 120.0,
                 data_seed: int = 1) -> TransferResult:
        """One echo of nbytes through the bridge with these profiles (see the module doc).
        Never raises for a failed transfer: the result says ok=False and why, with every
        counter there was.  Raises RuntimeError when the lab itself cannot run (a process that
        does not start)."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
        if self.far == "linux" and congestion != "cubic":
            raise ValueError("the Linux far side runs cubic (every peer socket asks for it)")
        run = next(self._runs)
        r = TransferResult(self.far, direction, nbytes, to_far, to_near, congestion)
        started = time.monotonic()
        bridge = engine = server = client = None
        failures: list[str] = []
        near_before = self.snmp(self.ns_near)
        far_before = self.snmp(self.ns_far) if self.ns_far else None
        io_timeout = min(60.0, timeout)
        try:
            bridge = self._start_bridge(run, to_far, to_near)
            if direction == "near-client":
                if self.far == "sluice":
                    engine = self._start_engine(run, ["--serve", f"echo:{ECHO_PORT}",
                                                      "--congestion", congestion,
                                                      *engine_args])
                else:
                    server = self._peer(self.ns_far, {
                        "role": "echo-server", "ip": self.far_ip, "port": ECHO_PORT,
                        "accept_timeout": timeout, "io_timeout": io_timeout, "cc": LINUX_CC},
                        "R echo server")
                    server.wait_line(lambda line: line == "LISTENING", READY_TIMEOUT)
                client = self._peer(self.ns_near, {
                    "role": "client", "ip": self.far_ip, "port": ECHO_PORT, "bytes": nbytes,
                    "data": "random", "seed": data_seed, "io_timeout": io_timeout,
                    "total_timeout": timeout, "cc": LINUX_CC}, "L client")
                status = client.wait(timeout + 30)
                if status is None:
                    client.kill()
                    failures.append(f"the Linux client did not finish within {timeout + 30:.0f}"
                                    f" s")
                peer = _peer_json(client) or {}
                r.peer = peer
                if status is not None and not peer:
                    failures.append(f"the Linux client printed no result (status {status})")
                if peer:
                    if peer.get("error"):
                        failures.append(f"Linux client: {peer['error']}")
                    if peer.get("received") != nbytes:
                        failures.append(f"echo: received {peer.get('received')} of {nbytes} "
                                        f"bytes")
                    elif peer.get("received_sha") != peer.get("sent_sha"):
                        failures.append("echo: the bytes that came back differ from those sent")
                    if peer.get("cc") not in (None, LINUX_CC):
                        failures.append(f"the Linux client ran {peer.get('cc')}")
                    r.elapsed = peer.get("elapsed")
                if server is not None:
                    s_status = server.wait(30)
                    if s_status is None:
                        server.kill()
                        failures.append("R's echo server did not finish")
                    else:
                        sp = _peer_json(server) or {}
                        r.peer["far_server"] = sp
                        if sp.get("error"):
                            failures.append(f"R echo server: {sp['error']}")
                        if sp.get("cc") not in (None, LINUX_CC):
                            failures.append(f"R's echo server ran {sp.get('cc')}")
            else:  # far-client
                server = self._peer(self.ns_near, {
                    "role": "echo-server", "ip": self.near_ip, "port": NEAR_PORT,
                    "accept_timeout": timeout, "io_timeout": io_timeout, "cc": LINUX_CC},
                    "L echo server")
                server.wait_line(lambda line: line == "LISTENING", READY_TIMEOUT)
                if self.far == "sluice":
                    engine = self._start_engine(run, [
                        "--connect", f"{self.near_ip}:{NEAR_PORT}",
                        "--client-bytes", str(nbytes), "--congestion", congestion,
                        *engine_args])
                    e_status = engine.wait(timeout)
                    if e_status is None:
                        engine.interrupt()
                        failures.append(f"the engine's client did not finish within "
                                        f"{timeout:.0f} s (interrupted)")
                    elif e_status != 0:
                        failures.append(f"the engine's client exited {e_status}")
                    summary = [line for line in engine.stdout
                               if line.startswith("sluice: client:")]
                    r.peer["engine_client"] = summary[-1] if summary else None
                    if e_status == 0 and not (summary and summary[-1].endswith(
                            f"received {nbytes} bytes, all as sent, connection closed")):
                        failures.append(f"engine client summary: {summary}")
                else:
                    client = self._peer(self.ns_far, {
                        "role": "client", "ip": self.near_ip, "port": NEAR_PORT,
                        "bytes": nbytes, "data": "pattern", "io_timeout": io_timeout,
                        "total_timeout": timeout, "cc": LINUX_CC}, "R client")
                    c_status = client.wait(timeout + 30)
                    if c_status is None:
                        client.kill()
                        failures.append("R's client did not finish")
                    cp = _peer_json(client) or {}
                    r.peer["far_client"] = cp
                    if cp.get("error"):
                        failures.append(f"R client: {cp['error']}")
                    if cp.get("cc") not in (None, LINUX_CC):
                        failures.append(f"R's client ran {cp.get('cc')}")
                    if cp and (cp.get("received") != nbytes
                               or cp.get("received_sha") != cp.get("sent_sha")):
                        failures.append(f"R client: echo received {cp.get('received')} of "
                                        f"{nbytes} bytes, intact: "
                                        f"{cp.get('received_sha') == cp.get('sent_sha')}")
                s_status = server.wait(30 if not failures else 5)
                if s_status is None:
                    server.kill()
                    failures.append("L's echo server did not finish")
                sp = _peer_json(server) or {}
                r.peer["near_server"] = sp
                if sp:
                    if sp.get("error"):
                        failures.append(f"L echo server: {sp['error']}")
                    if sp.get("cc") not in (None, LINUX_CC):
                        failures.append(f"L's echo server ran {sp.get('cc')}")
                    if sp.get("received") != nbytes or sp.get("sha") != pattern_sha256(nbytes):
                        failures.append(f"L echo server: received {sp.get('received')} of "
                                        f"{nbytes} bytes, the pattern: "
                                        f"{sp.get('sha') == pattern_sha256(nbytes)}")
                    r.elapsed = sp.get("elapsed")
                elif s_status is not None:
                    failures.append("L's echo server printed no result")
            if engine is not None:
                if engine.popen.poll() is None:
                    status, killed = engine.interrupt()
                    if killed:
                        failures.append("the engine did not stop on SIGINT (killed)")
                    elif status != 0:
                        failures.append(f"the engine exited {status} on SIGINT")
                engine.join()
                r.far_counters = parse_sluice_counters(engine.stdout)
                if "drop.total" not in r.far_counters:
                    failures.append("no counter report from the engine")
        finally:
            if bridge is not None:
                status, killed = bridge.interrupt()
                r.bridge = parse_bridge_counters(bridge.stdout)
                if killed or status != 0:
                    failures.append(f"the bridge exited {status}{' (killed)' if killed else ''}")
            for p in (engine, server, client):
                if p is not None:
                    p.kill()
            r.wall = time.monotonic() - started
        near_after = self.snmp(self.ns_near)
        r.near_counters = _tcp_delta(near_before, near_after)
        r.near_retrans = r.near_counters.get("Tcp.RetransSegs", 0)
        r.near_sent = r.near_counters.get("Tcp.OutSegs", 0) + r.near_retrans
        r.near_dsack_received = r.near_counters.get("TcpExt.TCPDSACKRecv", 0)
        if self.far == "sluice":
            c = r.far_counters
            if c:
                r.far_retrans = c.get("tcp_retransmitted_segments")
                r.far_sent = c.get("tcp_segments_sent")
                r.far_dsack_received = c.get("tcp_dsack_received")
        else:
            r.far_counters = _tcp_delta(far_before, self.snmp(self.ns_far))
            r.far_retrans = r.far_counters.get("Tcp.RetransSegs", 0)
            r.far_sent = r.far_counters.get("Tcp.OutSegs", 0) + r.far_retrans
            r.far_dsack_received = r.far_counters.get("TcpExt.TCPDSACKRecv", 0)
        if r.elapsed and not failures:
            r.goodput_mbps = nbytes * 8 / r.elapsed / 1e6
        r.ok = not failures
        r.failure = "; ".join(failures) or None
        logs = [p.output() for p in (bridge, engine, server, client) if p is not None]
        for p in (bridge, engine, server, client):
            if p is not None:
                self._forget(p)
        if not r.ok:
            r.log = "\n".join(logs)
        if self.verbose:
            print(r.describe(), flush=True)
        return r


# The Linux counters worth keeping per run (deltas), by prefix or name.
_TCP_KEYS = ("Tcp.", "TcpExt.TCPDSACK", "TcpExt.TCPSACK", "TcpExt.TCPLost",
             "TcpExt.TCPTimeouts", "TcpExt.TCPSpurious", "TcpExt.TCPFastRetrans",
             "TcpExt.TCPSlowStartRetrans", "TcpExt.TCPLossProbes", "TcpExt.TCPLossProbeRecovery",
             "TcpExt.TCPOFOQueue", "TcpExt.TCPRenoRecovery", "TcpExt.TCPSackRecovery",
             "TcpExt.TCPSackRecoveryFail", "TcpExt.TCPRetransFail", "TcpExt.TCPOFODrop",
             "TcpExt.TCPRcvQDrop", "TcpExt.TCPDSACKUndo", "TcpExt.TCPFullUndo",
             "TcpExt.TCPPartialUndo", "TcpExt.TCPLossUndo", "TcpExt.TCPSACKReorder",
             "TcpExt.TCPTSReorder", "TcpExt.TCPRenoReorder", "TcpExt.PAWS")


def _tcp_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    out = {}
    for k, v in after.items():
        if any(k.startswith(p) for p in _TCP_KEYS) and not k.startswith(("Tcp.RtoAlgorithm",
                                                                          "Tcp.RtoMin",
                                                                          "Tcp.RtoMax",
                                                                          "Tcp.MaxConn",
                                                                          "Tcp.CurrEstab")):
            d = v - before.get(k, 0)
            if d:
                out[k] = d
    return out


def _cleanup_all() -> None:
    with _LIVE_LOCK:
        labs = list(_LIVE)
    for lab in labs:
        lab.cleanup()


atexit.register(_cleanup_all)


if __name__ == "__main__":  # a quick look by hand: one transfer each way
    import argparse

    ap = argparse.ArgumentParser(description="one lossy-link echo transfer each way")
    ap.add_argument("--far", choices=FARS, default="sluice")
    ap.add_argument("--bytes", type=int, default=4 << 20)
    ap.add_argument("--loss", type=float, default=0.01)
    ap.add_argument("--reorder", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--congestion", default="cubic")
    ap.add_argument("--direction", choices=DIRECTIONS + ("both",), default="both")
    a = ap.parse_args()
    with LossyLab(a.far) as lab:
        dirs = DIRECTIONS if a.direction == "both" else (a.direction,)
        for d in dirs:
            res = lab.transfer(d, a.bytes, *profiles(a.loss, a.reorder, a.seed),
                               congestion=a.congestion)
            print(res.describe())
            if not res.ok:
                print(res.log)
