"""Sluice through a lossy, reordering link, against Linux: bench/lossy/lossy_lab.py's topology
(a Linux peer in a namespace, sluice-faultbridge in the middle, the engine on the far veth).

1. A Linux client echoes 16 MiB through the engine's echo service, and the engine's client echoes
   16 MiB through a Linux echo server, each with 5 % loss and 10 % reordering (held up to 2 ms)
   in both directions, fixed seeds: every byte checked (SHA-256 both ways, and the engine's client
   checks its pattern), within a generous time (a bound for a stall, not a speed check), and the
   engine's counters show that SACK blocks went both ways and fast retransmit repaired losses.
2. bench/lossy/goodput.py --quick runs and writes JSON with the fields its README promises.

The bridge binary is found beside the engine under test ($SLUICE_BIN's build:
drivers/sluice-faultbridge), or at $SLUICE_FAULTBRIDGE_BIN.  Root, /usr/bin/python3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LOSSY_DIR = Path(__file__).resolve().parents[2] / "bench" / "lossy"
sys.path.insert(0, str(LOSSY_DIR))
import lossy_lab  # noqa: E402

MIB = 1 << 20
BOUND = 120.0  # seconds for one 16 MiB echo; a stall, not slowness, should exceed it
LOSS = 0.05
REORDER = 0.10


def bridge_for(sluice_bin: Path) -> Path:
    path = lossy_lab.bridge_binary(sluice_bin)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"sluice-faultbridge not found at {path}: build it beside the engine "
                    f"(ninja -C BUILD drivers/sluice-faultbridge) or set "
                    f"SLUICE_FAULTBRIDGE_BIN", pytrace=False)
    return path


@pytest.fixture
def sluice_lab(lab_preconditions, sluice_bin):
    lab = lossy_lab.LossyLab("sluice", sluice_bin=sluice_bin, bridge_bin=bridge_for(sluice_bin))
    try:
        lab.create()
        yield lab
    finally:
        lab.cleanup()


def check_lossy_echo(r: lossy_lab.TransferResult) -> None:
    report = r.describe() + ("\n" + r.log if r.log else "")
    assert r.ok, report
    assert r.elapsed is not None and r.elapsed <= BOUND, report
    # The bridge did impair both directions as asked.
    for way in ("to_far", "to_near"):
        counts = r.bridge.get(way, {})
        assert counts.get("dropped_loss", 0) > 0 and counts.get("reordered", 0) > 0, report
    c = r.far_counters
    # SACK both ways (the engine's receiver told of holes, its sender heard of Linux's), and
    # fast retransmit, not only timeouts, repaired what was lost.
    assert c.get("tcp_sack_blocks_sent", 0) > 0, report
    assert c.get("tcp_sack_blocks_received", 0) > 0, report
    assert c.get("tcp_fast_retransmits", 0) > 0, report
    assert c.get("tcp_retransmitted_segments", 0) > 0, report
    assert c.get("tcp_connect_failures", 0) == 0, report


def test_linux_client_echo_through_lossy_link(sluice_lab):
    r = sluice_lab.transfer("near-client", 16 * MIB,
                            *lossy_lab.profiles(loss=LOSS, reorder=REORDER, seed=7),
                            timeout=BOUND, data_seed=7)
    check_lossy_echo(r)
    assert r.far_counters.get("tcp_passive_opens", 0) == 1, r.describe()


def test_engine_client_echo_through_lossy_link(sluice_lab):
    r = sluice_lab.transfer("far-client", 16 * MIB,
                            *lossy_lab.profiles(loss=LOSS, reorder=REORDER, seed=9),
                            timeout=BOUND)
    check_lossy_echo(r)
    assert r.far_counters.get("tcp_active_opens", 0) == 1, r.describe()


def test_goodput_quick_smoke(lab_preconditions, sluice_bin, tmp_path):
    bridge = bridge_for(sluice_bin)
    out = tmp_path / "goodput.json"
    chart = tmp_path / "goodput.png"
    env = dict(os.environ, SLUICE_BIN=str(sluice_bin), SLUICE_FAULTBRIDGE_BIN=str(bridge))
    done = subprocess.run(
        [lossy_lab.PYTHON, str(LOSSY_DIR / "goodput.py"), "--quick", "--losses", "1",
         "--directions", "near-client", "--json", str(out), "--chart", str(chart)],
        capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, f"goodput.py exited {done.returncode}\n{done.stdout}\n" \
                                 f"{done.stderr[-4000:]}"
    data = json.loads(out.read_text())
    for key in ("config", "runs", "summary"):
        assert key in data, data.keys()
    assert data["config"]["bytes"] > 0 and data["config"]["losses"] == [1.0], data["config"]
    stacks = {row["stack"] for row in data["summary"]}
    assert stacks == {"sluice-cubic", "sluice-newreno", "linux-cubic"}, stacks
    for row in data["summary"]:
        for key in ("sweep", "stack", "direction", "loss", "reorder", "runs", "ok_runs",
                    "goodput_mbps_median", "retrans_ratio_median", "spurious_median",
                    "timeouts_median"):
            assert key in row, (key, row)
        assert row["sweep"] == "loss" and row["loss"] == 1.0 and row["direction"] == "near-client"
        assert row["ok_runs"] == row["runs"] >= 1, row
        assert row["goodput_mbps_median"] > 0, row
        assert 0 <= row["retrans_ratio_median"] < 1, row
    for run in data["runs"]:
        for key in ("far", "congestion", "direction", "nbytes", "ok", "elapsed", "goodput_mbps",
                    "far_retrans", "far_sent", "far_retrans_ratio", "near_retrans",
                    "near_sent", "bridge", "to_far", "to_near"):
            assert key in run, (key, run.keys())
        assert run["ok"] and run["bridge"]["to_far"]["offered"] > 0, run
    assert chart.is_file() and chart.stat().st_size > 0, done.stderr[-2000:]
    # The table went to stdout.
    assert "sluice-cubic" in done.stdout and "linux-cubic" in done.stdout, done.stdout
