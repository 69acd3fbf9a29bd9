"""Smoke test of sluice-perf, the end-to-end load tool (bench/perf/README.md).

It runs every workload (rr, crr, stream at MTU 1500 and 9000, latency) over every stack (Sluice
over net_memif, Linux over loopback, Linux over a veth pair) with tiny sizes and durations, and
checks that the JSON has every row with a positive figure for every stack that ran it, that no
run lost a connection, that the chart was drawn, and that the tool left nothing behind (network
namespaces, EAL runtime directories, its work directory).  It never asserts on how large a figure
is: a benchmark must not fail CI because a shared machine was slow.  It also checks that a bad
flag or value is refused with a message that names it and says what is allowed.

The binary is found beside the engine under test: $SLUICE_BIN is build/control/sluice, the tool
is build/bench/perf/sluice-perf (the test command configures `build` with -Dbenchmarks=true).
Needs root: the tool creates network namespaces and runs DPDK.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# A bound for a hung tool, not a speed check: the whole run takes well under a minute.
RUN_TIMEOUT = 150
FLAG_TIMEOUT = 20

TINY = ["--duration", "0.3", "--warmup", "0.2", "--connections", "4", "--crr-connections", "4",
        "--size", "16", "--write-size", "4096", "--mtu", "1500,9000", "--memory", "256",
        "--placement-retries", "1"]

STACKS = ["sluice", "linux-lo", "linux-veth"]
ROWS = ["rr", "crr", "stream_mtu1500", "stream_mtu9000", "latency_p50", "latency_p90",
        "latency_p99", "latency_p99_9", "latency_max"]
# Loopback keeps its own MTU, so it runs stream once and appears in the first MTU's row only.
NOT_RUN = {("stream_mtu9000", "linux-lo")}


def perf_binary() -> Path:
    configured = os.environ.get("SLUICE_BIN")
    engine = Path(configured) if configured else REPO_ROOT / "build" / "control" / "sluice"
    if not engine.is_absolute() and not engine.exists():
        engine = REPO_ROOT / engine
    return engine.resolve().parents[1] / "bench" / "perf" / "sluice-perf"


@pytest.fixture(scope="module")
def tool() -> Path:
    if os.geteuid() != 0:
        pytest.fail("sluice-perf creates network namespaces and runs DPDK: run as root",
                    pytrace=False)
    path = perf_binary()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"sluice-perf not found at {path}; configure the build with -Dbenchmarks=true "
                    f"(meson configure build -Dbenchmarks=true && ninja -C build)", pytrace=False)
    return path


def leftovers(pid: int) -> list[str]:
    """Anything named after the tool's pid that it should have removed."""
    found = []
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found += [line.split()[0] for line in names.splitlines()
              if line.startswith(f"sluice-perf-{pid}-")]
    for root in (Path("/var/run/dpdk"), Path("/tmp")):
        if root.is_dir():
            found += [str(p) for p in root.glob(f"sluice-perf-{pid}-*")]
    return found


def remove_leftovers(pid: int) -> None:
    """The test's own safety net: whatever the tool failed to remove goes anyway."""
    for name in leftovers(pid):
        if name.startswith("/"):
            subprocess.run(["rm", "-rf", name], check=False)
        else:
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def tagged_processes(tag: str) -> list[int]:
    """Processes whose environment carries `tag`: the tool and every child it started (children
    inherit the environment, through `ip netns exec` too)."""
    found = []
    needle = f"SLUICE_PERF_TEST_TAG={tag}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def start_tool(tool: Path, args: list[str], tag: str) -> subprocess.Popen:
    env = dict(os.environ, SLUICE_PERF_TEST_TAG=tag)
    return subprocess.Popen([str(tool), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, env=env)


def kill_tagged(tag: str) -> None:
    for pid in tagged_processes(tag):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_tool(tool: Path, args: list[str],
             timeout: float) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Runs sluice-perf in its own session and returns what it printed and what it left behind
    (files, namespaces, processes), which is then removed.  On a timeout it is stopped (SIGTERM,
    which it turns into an orderly clean-up, then SIGKILL) and the test fails."""
    tag = uuid.uuid4().hex
    left: list[str] = []
    proc = start_tool(tool, args, tag)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        pytest.fail(f"sluice-perf did not finish within {timeout} s\n{out}\n{err}", pytrace=False)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        left = leftovers(proc.pid) + [f"process {pid}" for pid in tagged_processes(tag)]
        kill_tagged(tag)
        remove_leftovers(proc.pid)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), left


def test_every_workload_over_every_stack(tool: Path, tmp_path: Path):
    json_path = tmp_path / "perf.json"
    chart_path = tmp_path / "perf.png"
    done, left = run_tool(tool, TINY + ["--json", str(json_path), "--chart", str(chart_path),
                                        "--log-dir", str(tmp_path / "logs")], RUN_TIMEOUT)
    report = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.returncode == 0, f"sluice-perf exited with {done.returncode}\n{report}"
    assert "workload" in done.stdout and "ratio" in done.stdout, report
    assert not left, f"sluice-perf left {left} behind"

    result = json.loads(json_path.read_text())
    rows = {row["key"]: row for row in result["rows"]}
    assert sorted(rows) == sorted(ROWS), f"rows {sorted(rows)}\n{report}"
    for key in ROWS:
        for stack in STACKS:
            if (key, stack) in NOT_RUN:
                continue
            value = rows[key]["values"].get(stack)
            assert value is not None and value > 0, \
                f"{key} over {stack}: {value!r}\n{json.dumps(rows[key])}\n{report}"
    nearest = result["machine"]["nearest_core_round_trip_ns"]
    assert nearest is not None and nearest > 0, f"no distance between the cores: {result['machine']}"
    for run in result["runs"]:
        name = f"{run['workload']} over {run['stack']} (MTU {run['mtu']})"
        # The cores' distance around every run; a run made with them far apart is made again
        # once at most (--placement-retries 1), and says so if it still was.
        for when in ("before", "after"):
            distance = run["core_round_trip_ns"][when]
            assert distance is not None and distance >= nearest, \
                f"{name}: round trip {when} the run {distance!r}, nearest {nearest}"
        assert run["attempts"] in (1, 2), f"{name}: made {run['attempts']} times"
        far = any(d > 2 * nearest and d - nearest > 50 for d in run["core_round_trip_ns"].values())
        assert run["cores_far_apart"] == far, f"{name}: {run['core_round_trip_ns']}, {nearest}"
        assert run["ok"], f"{name} failed: {run.get('failure')}"
        assert run["client"]["errors"] == 0, f"{name} lost connections: {run['client']}"
        assert run["server_exit"] == 0, f"{name}: the server exited with {run['server_exit']}"
        assert run["client"]["cpu"] >= 0, f"{name}: no client CPU figure: {run['client']}"

    assert chart_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "the chart is not a PNG"


# (flags, text the error must contain): the flag, and what is allowed.
BAD_FLAGS = {
    "unknown-flag": (["--no-such-flag"], ["unknown flag '--no-such-flag'", "--workloads"]),
    "size-zero": (["--size", "0"], ["--size '0'", "1 to 65536"]),
    "unknown-workload": (["--workloads", "rr,ping"], ["--workloads 'rr,ping'", "rr, crr, stream, latency"]),
    "unknown-stack": (["--stacks", "bsd"], ["--stacks 'bsd'", "sluice, linux-lo, linux-veth"]),
    "duration-text": (["--duration", "soon"], ["--duration 'soon'", "0.1 to 3600"]),
    "mtu-too-big": (["--mtu", "1500,65000"], ["--mtu '1500,65000'", "576 to 9000"]),
    "same-cores": (["--server-core", "0", "--client-core", "0"], ["--server-core", "--client-core"]),
    "missing-value": (["--connections"], ["--connections needs a value"]),
    "too-many-retries": (["--placement-retries", "11"], ["--placement-retries '11'", "0 to 10"]),
    "unknown-checksums": (["--sluice-checksums", "none"],
                          ["--sluice-checksums 'none'", "full, trust-received or off"]),
}


@pytest.mark.parametrize("name", sorted(BAD_FLAGS))
def test_bad_flag_is_refused_with_a_message(tool: Path, name: str):
    args, expected = BAD_FLAGS[name]
    done, left = run_tool(tool, args, FLAG_TIMEOUT)
    assert done.returncode == 2, f"{args}: exit {done.returncode}\n{done.stdout}{done.stderr}"
    for text in expected:
        assert text in done.stderr, f"{args}: {text!r} not in {done.stderr!r}"
    assert not done.stdout.strip(), f"{args}: printed a table anyway:\n{done.stdout}"
    assert not left, f"{args}: left {left} behind"


def test_interrupted_run_leaves_nothing_behind(tool: Path, tmp_path: Path):
    """SIGTERM in the middle of a run: the tool stops its server and client, removes the
    namespaces, sockets and runtime directories, and exits 130."""
    tag = uuid.uuid4().hex
    proc = start_tool(tool, ["--duration", "20", "--warmup", "1", "--workloads", "rr",
                             "--stacks", "linux-veth,sluice", "--memory", "256",
                             "--json", str(tmp_path / "never.json"), "--no-chart"], tag)
    try:
        # Wait until the first run's pair is up (a server and a client besides the tool itself).
        deadline = time.monotonic() + 30
        while len(tagged_processes(tag)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(tagged_processes(tag)) >= 3, "the first run never started"
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, f"exit {proc.returncode}\n{out}\n{err}"
        assert not (tmp_path / "never.json").exists(), "an interrupted run wrote results"
        time.sleep(0.5)  # children reaped by the tool; give the kernel a moment to forget them
        assert not tagged_processes(tag), f"processes left running: {tagged_processes(tag)}"
        assert not leftovers(proc.pid), f"left behind: {leftovers(proc.pid)}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        kill_tagged(tag)
        remove_leftovers(proc.pid)
