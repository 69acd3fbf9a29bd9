#!/usr/bin/python3
"""Goodput under impairment: Sluice (cubic, newreno) and Linux (cubic) through the same
sluice-faultbridge, the same profiles and the same seeds (bench/lossy/README.md).

    sudo /usr/bin/python3 bench/lossy/goodput.py                 # the full sweep
    sudo /usr/bin/python3 bench/lossy/goodput.py --quick         # a smoke run, seconds
    sudo /usr/bin/python3 bench/lossy/goodput.py --help

Each run is one lossy_lab transfer: an echo of --bytes each way, every byte checked.  A point
(loss, reorder) is run once per seed, per direction and per stack, interleaved so that a machine
whose load drifts treats every stack alike; the table gives medians over the seeds.  Exit status:
0 when every run passed, 1 when one failed (the table and the JSON say which and why), 2 for a
bad flag or a lab that cannot be built, 130 when interrupted (the JSON then holds what was done).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lossy_lab  # noqa: E402

STACKS = {  # name: (far side, congestion control)
    "sluice-cubic": ("sluice", "cubic"),
    "sluice-newreno": ("sluice", "newreno"),
    "linux-cubic": ("linux", "cubic"),
}
DEFAULT_LOSSES = [0.1, 1, 2, 5, 10]  # percent
DEFAULT_REORDERS = [0, 1, 10]  # percent, at no loss
DEFAULT_BYTES = 4 << 20
DEFAULT_SEEDS = 3


def parse_size(text: str) -> int:
    t = text.strip().lower()
    for suffix, mult in (("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30), ("k", 1 << 10),
                         ("m", 1 << 20), ("g", 1 << 30)):
        if t.endswith(suffix):
            return int(float(t[:-len(suffix)]) * mult)
    return int(t)


def percent_list(text: str) -> list[float]:
    if not text.strip():
        return []
    out = []
    for part in text.split(","):
        v = float(part.strip().rstrip("%"))
        if not 0 <= v <= 100:
            raise argparse.ArgumentTypeError(f"{part!r}: a percentage from 0 to 100")
        out.append(v)
    return out


def stack_list(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in names if s not in STACKS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"{text!r}: stacks are {', '.join(STACKS)}")
    return names


def options(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="goodput.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bytes", type=parse_size, default=None,
                    help=f"echoed each way per run: N, or N with K/M/G (default 4M; --quick 1M)")
    ap.add_argument("--losses", type=percent_list, default=None,
                    help="loss rates of the loss sweep, percent, comma-separated "
                         "(default 0.1,1,2,5,10; --quick 1; '' skips the sweep)")
    ap.add_argument("--reorders", type=percent_list, default=None,
                    help="reorder rates of the reorder sweep at no loss, percent "
                         "(default 0,1,10; --quick: none; '' skips the sweep)")
    ap.add_argument("--reorder-delay", default="2ms",
                    help="how long a reordered frame may be held (default 2ms)")
    ap.add_argument("--delay", default=None,
                    help="one-way delay added in each direction, e.g. 1ms (default none)")
    ap.add_argument("--seeds", type=int, default=None,
                    help="seeds per point (default 3; --quick 1); seed i gives the profiles "
                         "seed=10*i+1 (to the far side) and 10*i+2 (back)")
    ap.add_argument("--stacks", type=stack_list, default=list(STACKS),
                    help=f"comma-separated, from {','.join(STACKS)} (default all)")
    ap.add_argument("--directions", choices=("both",) + lossy_lab.DIRECTIONS, default="both",
                    help="near-client: a Linux client echoes through the far side's echo "
                         "server; far-client: the far side's client echoes through a Linux "
                         "echo server (default both)")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="seconds one transfer may take before it counts as failed (120)")
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="start no new run after this long; the table covers what ran")
    ap.add_argument("--json", default="lossy-goodput.json", help="results as JSON")
    ap.add_argument("--chart", default="lossy-goodput.png", help="PNG chart (gnuplot)")
    ap.add_argument("--no-chart", action="store_true", help="draw no chart")
    ap.add_argument("--quick", action="store_true",
                    help="a small smoke run: 1 MiB, loss 1 %%, one seed, no reorder sweep")
    ap.add_argument("--verbose", action="store_true", help="every run's counters on stderr")
    a = ap.parse_args(argv)
    if a.bytes is None:
        a.bytes = 1 << 20 if a.quick else DEFAULT_BYTES
    if a.losses is None:
        a.losses = [1.0] if a.quick else [float(x) for x in DEFAULT_LOSSES]
    if a.reorders is None:
        a.reorders = [] if a.quick else [float(x) for x in DEFAULT_REORDERS]
    if a.seeds is None:
        a.seeds = 1 if a.quick else DEFAULT_SEEDS
    if a.bytes <= 0 or a.seeds < 1 or a.timeout <= 0:
        ap.error("--bytes, --seeds and --timeout must be positive")
    if not a.losses and not a.reorders:
        ap.error("nothing to run: --losses and --reorders are both empty")
    return a


def points(a: argparse.Namespace) -> list[tuple[str, float, float]]:
    out = [("loss", loss, 0.0) for loss in a.losses]
    out += [("reorder", 0.0, reorder) for reorder in a.reorders]
    return out


def timeouts_of(run: lossy_lab.TransferResult) -> Optional[int]:
    c = run.far_counters
    if not c:
        return None
    return c.get("tcp_timeouts") if run.far == "sluice" else c.get("TcpExt.TCPTimeouts", 0)


def median(values: list) -> Optional[float]:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(records: list[dict]) -> list[dict]:
    """One row per (sweep, loss, reorder, direction, stack): medians over the passed runs."""
    groups: dict[tuple, list[dict]] = {}
    for rec in records:
        key = (rec["sweep"], rec["loss"], rec["reorder"], rec["direction"], rec["stack"])
        groups.setdefault(key, []).append(rec)
    rows = []
    for (sweep, loss, reorder, direction, stack), recs in groups.items():
        ok = [r for r in recs if r["ok"]]
        goodputs = [r["goodput_mbps"] for r in ok]
        rows.append({
            "sweep": sweep, "loss": loss, "reorder": reorder, "direction": direction,
            "stack": stack, "runs": len(recs), "ok_runs": len(ok),
            "goodput_mbps_median": median(goodputs),
            "goodput_mbps_min": min(goodputs) if goodputs else None,
            "goodput_mbps_max": max(goodputs) if goodputs else None,
            "retrans_ratio_median": median([r["far_retrans_ratio"] for r in ok]),
            "spurious_median": median([r["far_dsack_received"] for r in ok]),
            "timeouts_median": median([r["timeouts"] for r in ok]),
            "elapsed_median": median([r["elapsed"] for r in ok]),
            "failures": [{"seed": r["seed"], "failure": r["failure"]}
                         for r in recs if not r["ok"]],
        })
    return rows


def fmt(v: Optional[float], spec: str) -> str:
    return "-" if v is None else format(v, spec)


def table(rows: list[dict], a: argparse.Namespace) -> str:
    lines = []
    imp = f"reorder holds up to {a.reorder_delay}" + (f", delay {a.delay}" if a.delay else "")
    lines.append(f"Goodput under impairment: {a.bytes / (1 << 20):g} MiB echoed each way per "
                 f"run, {a.seeds} seed(s) per point, medians over seeds ({imp}).")
    lines.append("goodput = bytes / elapsed (each way); retx = retransmitted / sent segments of "
                 "the stack under test; spurious = D-SACKs it received; RTOs = its timeouts.")
    lines.append("near-client: Linux client -> echo server under test; far-client: client under "
                 "test -> Linux echo server.")
    order = {name: i for i, name in enumerate(STACKS)}
    for sweep in ("loss", "reorder"):
        part = [r for r in rows if r["sweep"] == sweep]
        if not part:
            continue
        part.sort(key=lambda r: (lossy_lab.DIRECTIONS.index(r["direction"]), r["loss"],
                                 r["reorder"], order[r["stack"]]))
        lines.append("")
        lines.append("Loss sweep (no reordering)" if sweep == "loss"
                     else "Reorder sweep (no loss)")
        head = (f"{'direction':<12} {'loss %':>6} {'reord %':>7} {'stack':<15} "
                f"{'Mbit/s':>8} {'(min-max)':>15} {'retx %':>7} {'spurious':>8} {'RTOs':>6} "
                f"{'ok':>5}")
        lines.append(head)
        lines.append("-" * len(head))
        for r in part:
            rng = (f"({fmt(r['goodput_mbps_min'], '.1f')}-{fmt(r['goodput_mbps_max'], '.1f')})"
                   if r["ok_runs"] else "")
            retx = None if r["retrans_ratio_median"] is None else 100 * r["retrans_ratio_median"]
            lines.append(
                f"{r['direction']:<12} {r['loss']:>6g} {r['reorder']:>7g} {r['stack']:<15} "
                f"{fmt(r['goodput_mbps_median'], '.1f'):>8} {rng:>15} {fmt(retx, '.2f'):>7} "
                f"{fmt(r['spurious_median'], '.0f'):>8} {fmt(r['timeouts_median'], '.0f'):>6} "
                f"{r['ok_runs']}/{r['runs']:<3}")
    failed = [(r, f) for r in rows for f in r["failures"]]
    if failed:
        lines.append("")
        lines.append("FAILED runs:")
        for r, f in failed:
            lines.append(f"  {r['stack']} {r['direction']} loss {r['loss']:g}% reorder "
                         f"{r['reorder']:g}% seed {f['seed']}: {f['failure']}")
    return "\n".join(line.rstrip() for line in lines)


def chart(rows: list[dict], a: argparse.Namespace, path: str) -> Optional[str]:
    """Goodput against loss (log x and y), one line per stack and algorithm, a panel per direction;
    a second row for the reorder sweep if there is one.  Returns an error text, or None."""
    if shutil.which("gnuplot") is None:
        return "gnuplot is not installed (apt-get install gnuplot-nox)"
    directions = [d for d in lossy_lab.DIRECTIONS if any(r["direction"] == d for r in rows)]
    sweeps = [s for s in ("loss", "reorder") if any(r["sweep"] == s for r in rows)]
    if not directions or not sweeps:
        return "nothing to draw"
    work = tempfile.mkdtemp(prefix="lossy-chart-")
    try:
        plots = []
        for sweep in sweeps:
            for direction in directions:
                series = []
                for stack in STACKS:
                    pts = sorted((r["loss"] if sweep == "loss" else r["reorder"],
                                  r["goodput_mbps_median"]) for r in rows
                                 if r["sweep"] == sweep and r["direction"] == direction
                                 and r["stack"] == stack and r["goodput_mbps_median"])
                    if not pts:
                        continue
                    data = Path(work) / f"{sweep}-{direction}-{stack}.dat"
                    data.write_text("".join(f"{x} {y}\n" for x, y in pts))
                    series.append((stack, data))
                plots.append((sweep, direction, series))
        cols = len(directions)
        rows_n = len(sweeps)
        script = [f"set terminal pngcairo size {640 * cols},{440 * rows_n} font ',10'",
                  f"set output '{path}'",
                  f"set multiplot layout {rows_n},{cols}",
                  "set grid", "set key top right", "set ylabel 'goodput (Mbit/s)'"]
        mib = a.bytes / (1 << 20)
        for sweep, direction, series in plots:
            if sweep == "loss":
                # Goodput falls by orders of magnitude from 0.1 % to 10 %: log on both axes.
                script += ["set logscale xy", "set xlabel 'loss (%, each direction)'",
                           "set xrange [*:*]", "set yrange [*:*]", "set key bottom left"]
            else:
                script += ["unset logscale xy", "set xlabel 'reordered (%, each direction)'",
                           "set xrange [-0.5:*]", "set yrange [0:*]", "set key top right"]
            script.append(f"set title '{sweep} sweep, {direction}, {mib:g} MiB echo, median of "
                          f"{a.seeds}'")
            if not series:
                script += ["set label 1 'no data' at graph 0.5,0.5 center",
                           "plot NaN notitle", "unset label 1"]
                continue
            parts = [f"'{data}' using 1:2 with linespoints lw 2 pt 7 title '{stack}'"
                     for stack, data in series]
            script.append("plot " + ", ".join(parts))
        script.append("unset multiplot")
        gp = Path(work) / "chart.gp"
        gp.write_text("\n".join(script) + "\n")
        done = subprocess.run(["gnuplot", str(gp)], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            return f"gnuplot failed: {done.stderr.strip()[-500:]}"
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def source_state() -> dict:
    """The commit the binaries were presumably built from, and what differed from it."""
    root = str(lossy_lab.REPO_ROOT)
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--short", "--untracked-files=no",
                                "--", "dataplane", "drivers", "control"], capture_output=True,
                               text=True, timeout=10).stdout.split("\n")
        return {"head": head, "modified": [line[3:] for line in dirty if line.strip()]}
    except (OSError, subprocess.SubprocessError):
        return {}


def _interrupt(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    a = options(argv)
    if os.geteuid() != 0:
        print("goodput.py: needs root (namespaces, veths, DPDK)", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    directions = list(lossy_lab.DIRECTIONS) if a.directions == "both" else [a.directions]
    fars = sorted({STACKS[s][0] for s in a.stacks})
    plan = [(sweep, loss, reorder, i, direction, stack)
            for sweep, loss, reorder in points(a)
            for i in range(a.seeds)
            for direction in directions
            for stack in a.stacks]
    config = {"bytes": a.bytes, "losses": a.losses, "reorders": a.reorders,
              "reorder_delay": a.reorder_delay, "delay": a.delay, "seeds": a.seeds,
              "stacks": a.stacks, "directions": directions, "timeout": a.timeout,
              "sluice_bin": str(lossy_lab.sluice_binary()),
              "bridge_bin": str(lossy_lab.bridge_binary()),
              "command": " ".join([sys.argv[0]] + argv), "source": source_state()}
    records: list[dict] = []
    labs: dict[str, lossy_lab.LossyLab] = {}
    interrupted = False
    started = time.monotonic()
    try:
        try:
            for far in fars:
                labs[far] = lossy_lab.LossyLab(far)
                labs[far].create()
        except (RuntimeError, subprocess.SubprocessError) as e:
            print(f"goodput.py: cannot build the lab: {e}", file=sys.stderr)
            return 2
        print(f"goodput.py: {len(plan)} runs ({len(points(a))} points x {a.seeds} seeds x "
              f"{len(directions)} directions x {len(a.stacks)} stacks)", file=sys.stderr)
        for k, (sweep, loss, reorder, i, direction, stack) in enumerate(plan, 1):
            if a.max_minutes is not None and time.monotonic() - started > a.max_minutes * 60:
                print(f"goodput.py: --max-minutes reached after {k - 1} runs", file=sys.stderr)
                break
            far, cc = STACKS[stack]
            seed = 10 * i + 1
            to_far, to_near = lossy_lab.profiles(loss / 100, reorder / 100, seed,
                                                 reorder_delay=a.reorder_delay, delay=a.delay)
            try:
                r = labs[far].transfer(direction, a.bytes, to_far, to_near, congestion=cc,
                                       timeout=a.timeout, data_seed=seed)
            except (RuntimeError, OSError) as e:  # a lab process would not start: a failed run
                r = lossy_lab.TransferResult(far, direction, a.bytes, to_far, to_near, cc,
                                             failure=f"lab: {str(e).splitlines()[0]}",
                                             log=str(e))
            rec = r.as_dict(with_log=not r.ok)
            rec.update(sweep=sweep, loss=loss, reorder=reorder, seed=seed, stack=stack,
                       timeouts=timeouts_of(r))
            records.append(rec)
            retx = r.far_retrans_ratio
            print(f"[{k}/{len(plan)}] {sweep} sweep: loss {loss:g}% reorder {reorder:g}% seed {seed} "
                  f"{direction} {stack}: "
                  + (f"{r.goodput_mbps:.1f} Mbit/s, retx {100 * retx:.2f}%, "
                     f"spurious {r.far_dsack_received}, RTOs {rec['timeouts']}, "
                     f"{r.elapsed:.2f} s (run {r.wall:.1f} s)" if r.ok and retx is not None
                     else f"FAILED: {r.failure}"), file=sys.stderr, flush=True)
            if a.verbose or not r.ok:
                print(r.describe(), file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print("goodput.py: interrupted; writing what ran", file=sys.stderr)
    finally:
        for lab in labs.values():
            lab.cleanup()
    rows = summarize(records)
    print(table(rows, a))
    result = {"config": config, "runs": records, "summary": rows,
              "elapsed_seconds": time.monotonic() - started, "interrupted": interrupted,
              "fanout_retries": sum(lab.fanout_retries for lab in labs.values())}
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1) + "\n")
        print(f"\nJSON: {a.json}")
    if not a.no_chart and rows:
        err = chart(rows, a, a.chart)
        if err:
            print(f"goodput.py: no chart: {err}", file=sys.stderr)
        else:
            print(f"chart: {a.chart}")
    if interrupted:
        return 130
    return 0 if records and all(rec["ok"] for rec in records) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
