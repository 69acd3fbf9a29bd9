"""Smoke test of the micro-benchmarks (bench/micro/README.md): the program runs every benchmark
briefly and writes JSON in which each expected benchmark appears, without error, with a positive
time.

It never asserts on how large a figure is: a benchmark must not fail CI because a shared machine
was slow.  What fails it is a benchmark that is missing, that reported an error (each one checks
that it measured what it claims: every byte delivered, every SYN answered, no drops), or a
program that crashed or leaked mbufs.

The binary is found beside the engine under test: $SLUICE_BIN is build/control/sluice, the
benchmarks are build/bench/micro/micro_bench (the test command configures `build` with
-Dbenchmarks=true).  Needs root, as EAL does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

# A bound for a hung program, not a speed check: the whole run takes a few seconds.
RUN_TIMEOUT = 300

EXPECTED = [
    "listener_lookup/syn_backlog_full/listeners:1/first",
    "listener_lookup/syn_backlog_full/listeners:16/first",
    "listener_lookup/syn_backlog_full/listeners:16/last",
    "listener_lookup/syn_backlog_full/listeners:256/first",
    "listener_lookup/syn_backlog_full/listeners:256/last",
    "listener_lookup/syn_to_synack/listeners:1",
    "listener_lookup/syn_to_synack/listeners:256",
    "segment_path/burst32/delayed_ack/timestamps",
    "segment_path/burst32/delayed_ack/no_timestamps",
    "segment_path/burst32/delayed_ack/nic_offloads",
    "segment_path/turn_per_segment/delayed_ack",
    "segment_path/turn_per_segment/ack_every_segment",
    "segment_build/1448B/software_checksum",
    "segment_build/1448B/tx_checksum_offload",
    "segment_build/64B/software_checksum",
    "sack_recovery/ack/160",
    "sack_recovery/ack/640",
    "sack_recovery/ack/1280",
    "receive_queue/out_of_order/beyond/64",
    "receive_queue/out_of_order/beyond/1024",
    "receive_queue/out_of_order/beyond/4096",
    "receive_queue/out_of_order/front_up/64",
    "receive_queue/out_of_order/front_up/1024",
    "receive_queue/out_of_order/front_up/4096",
    "checksum/tcp_software/payload:64",
    "checksum/dpdk_rte_ipv4_udptcp_cksum/payload:64",
    "checksum/tcp_software/payload:1460",
    "checksum/dpdk_rte_ipv4_udptcp_cksum/payload:1460",
    "checksum/tcp_parse/payload:1460/verify",
    "checksum/tcp_parse/payload:1460/verified_by_device",
    "checksum/ipv4_header_emit/software",
    "checksum/ipv4_header_emit/by_device",
    "checksum/tx_setup/software/payload:64",
    "checksum/tx_setup/offload/payload:64",
    "checksum/tx_setup/software/payload:1460",
    "checksum/tx_setup/offload/payload:1460",
    "timer_wheel/schedule/armed:65536",
    "timer_wheel/cancel/armed:65536",
    "timer_wheel/rearm/armed:65536",
    "timer_wheel/expire/armed:65536",
    "timer_wheel/advance_one_tick/armed:65536",
    "timer_wheel/advance_same_tick/armed:65536",
    "ports/local_pool/take_give_back",
    "ports/worker_links/take_give_back/rss:none",
    "ports/worker_links/take_give_back/rss_queues:2",
    "ports/worker_links/take_give_back/rss_queues:4",
    "ports/ephemeral/lend_block",
    "ports/ephemeral/lend_take_back",
    "ports/ephemeral/owner_of/addresses:1",
    "ports/ephemeral/owner_of/addresses:8",
    "app_runtime/empty_turn/bare",
    "app_runtime/empty_turn/program",
    "app_runtime/message_to_self",
    "app_runtime/timer_arm_and_fire",
    "toeplitz/rss_model_hash",
    "toeplitz/rte_softrss",
    "toeplitz/crc32c_flow_hash",
]
# Registered only where the CPU has GFNI and AVX-512 (the JSON context says which).
EXPECTED_WITH_GFNI = [
    "toeplitz/rte_thash_gfni",
    "toeplitz/rte_thash_gfni_bulk",
]
# The per-unit counters the README's table quotes; each must be there and positive.
EXPECTED_COUNTERS = {
    "listener_lookup/": ["per_syn"],
    "segment_path/": ["per_segment", "per_ack", "acks_per_segment"],
    "segment_build/": ["per_segment"],
    "sack_recovery/": ["per_ack", "in_flight"],
    "receive_queue/": ["per_insert", "held"],
    "timer_wheel/schedule": ["per_timer"],
    "app_runtime/empty_turn": ["per_turn"],
    "app_runtime/message": ["per_message"],
    "app_runtime/timer": ["per_timer"],
    "toeplitz/": ["per_hash"],
}


def micro_bench_binary(sluice_bin: Path) -> Path:
    path = sluice_bin.parents[1] / "bench" / "micro" / "micro_bench"
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"micro-benchmarks not built at {path}: configure the build tree with "
                    f"-Dbenchmarks=true (meson configure {sluice_bin.parents[1]} "
                    f"-Dbenchmarks=true) and rebuild", pytrace=False)
    return path


def run_micro_bench(binary: Path, out: Path) -> subprocess.CompletedProcess:
    cmd = [str(binary), "--benchmark_min_time=0.01", f"--benchmark_out={out}",
           "--benchmark_out_format=json"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        pytest.fail(f"micro_bench did not finish within {RUN_TIMEOUT} s\n{stdout}{stderr}",
                    pytrace=False)
    finally:
        # The program removes its EAL runtime directory itself; not if it crashed.
        shutil.rmtree(f"/var/run/dpdk/sluice-micro-{proc.pid}", ignore_errors=True)
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def test_every_micro_benchmark_runs_and_reports_a_time(sluice_bin, tmp_path):
    if os.geteuid() != 0:
        pytest.fail("the micro-benchmarks start DPDK's EAL: run as root", pytrace=False)
    out = tmp_path / "micro.json"
    done = run_micro_bench(micro_bench_binary(sluice_bin), out)
    output = f"--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}"
    assert done.returncode == 0, f"micro_bench exited with {done.returncode}\n{output}"
    assert out.is_file(), f"micro_bench wrote no JSON\n{output}"
    report = json.loads(out.read_text())

    gfni = report["context"].get("toeplitz_gfni")
    assert gfni is not None, "the JSON context does not say whether rte_thash_gfni could run"
    expected = EXPECTED + (EXPECTED_WITH_GFNI if gfni == "usable" else [])

    # Manual-time benchmarks carry a "/manual_time" suffix in their names.
    results = {b["name"].removesuffix("/manual_time"): b for b in report["benchmarks"]}
    missing = [name for name in expected if name not in results]
    assert not missing, f"benchmarks missing from the JSON: {missing}\n{output}"
    unexpected = sorted(set(results) - set(expected))
    assert not unexpected, (f"benchmarks this test does not know (add them to EXPECTED): "
                            f"{unexpected}")

    failed = {name: results[name].get("error_message") for name in expected
              if results[name].get("error_occurred")}
    assert not failed, f"benchmarks that reported an error: {failed}"
    for name in expected:
        result = results[name]
        assert result["iterations"] > 0, f"{name} ran no iteration"
        assert result["real_time"] > 0 and result["cpu_time"] > 0, \
            f"{name} reported no time: {result}"
        for prefix, counters in EXPECTED_COUNTERS.items():
            if name.startswith(prefix):
                for counter in counters:
                    assert result.get(counter, 0) > 0, f"{name} has no positive {counter}"
