"""The adaptive idle mode (--idle adaptive, dataplane/idle_backoff.hpp): the engine still serves
every byte, and a quiet engine leaves its core to the machine."""

from __future__ import annotations

import os
import time

import pytest

from test_tcp import MIB, echo_each_way

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system time of a process and all its threads so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@pytest.mark.lab(engine_args=["--serve", "echo:7", "--idle", "adaptive"])
def test_adaptive_idle_serves_every_byte_and_sleeps_when_quiet(lab):
    pid = lab.engine.pid
    # Quiet: a whole second of wall time costs a small part of a core. (Polling costs all of
    # one, and a busy machine only lowers what a sleeper uses.)
    time.sleep(0.5)
    before, start = cpu_seconds(pid), time.monotonic()
    time.sleep(2)
    used = (cpu_seconds(pid) - before) / (time.monotonic() - start)
    assert used < 0.5, f"{used:.2f} of a core while idle"
    # Woken by traffic, it serves as the polling engine does: 4 MiB each way, byte for byte.
    counters = echo_each_way(lab, 4 * MIB, seed=3)
    assert counters["idle_sleeps"] > 0, counters
    assert counters["tcp_resets_sent"] == 0, counters


@pytest.mark.lab(engine_args=["--serve", "echo:7"])
def test_poll_mode_never_sleeps(lab):
    time.sleep(0.5)
    counters = echo_each_way(lab, 1 * MIB, seed=4)
    assert counters["idle_sleeps"] == 0, counters
