"""A smoke run of the memory-and-scale benchmark (bench/scale/): tiny, and never judged by its
figures (benchmarks do not fail on a number), only by whether it ran and reported them."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path


def scale_bench() -> Path:
    return Path(os.environ["SLUICE_BIN"]).resolve().parents[1] / "bench" / "scale" / "scale_bench"


def test_scale_bench_opens_every_connection_and_reports_its_cost(tmp_path):
    out = tmp_path / "scale.json"
    proc = subprocess.run([str(scale_bench()), "--connections", "20000", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["connections_established"] == report["connections_asked"] == 20000
    assert report["engine_state_bytes_per_connection"] > 0
    assert report["resident_bytes_per_connection"] > 0
    assert "engine state per connection" in proc.stdout


def test_scale_bench_names_a_bad_flag():
    proc = subprocess.run([str(scale_bench()), "--connections", "lots"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert "--connections 'lots'" in proc.stderr and "whole number" in proc.stderr
