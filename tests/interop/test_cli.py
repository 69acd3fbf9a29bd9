"""The engine's command line: bad options are refused before EAL starts, --help prints usage.

No namespace, no root needed: a refused command line must never get as far as EAL, which is
checked by giving each run its own --file-prefix and a device that cannot exist, then looking
for EAL output and for EAL's runtime directory.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

import pytest

_COUNTER = itertools.count(1)
CLI_TIMEOUT = 20  # a bound, not a speed check: these runs do no I/O beyond printing


def run_sluice(binary: Path, engine_args: list[str]) -> tuple[subprocess.CompletedProcess, Path]:
    prefix = f"sluice-cli-{os.getpid()}-{next(_COUNTER)}"
    runtime_dir = Path("/var/run/dpdk") / prefix
    cmd = [str(binary), "-l", "0", "--no-huge", "-m", "64", "--no-pci",
           "--file-prefix", prefix, "--vdev", "net_af_packet0,iface=sluice-no-such",
           "--", *engine_args]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=CLI_TIMEOUT,
                              stdin=subprocess.DEVNULL)
    finally:
        existed = runtime_dir.exists()
        if existed:  # only if the engine (wrongly) started EAL: tidy up after it
            subprocess.run(["rm", "-rf", str(runtime_dir)], check=False)
    assert not existed, f"EAL started (made {runtime_dir}) for engine args {engine_args}"
    return done, runtime_dir


# (engine args, text the one error line must contain): the flag and the offending value.
BAD_ARGS = {
    "addr-octet-out-of-range": (["--addr", "10.0.0.300/24"],
                                ["--addr '10.0.0.300/24'",
                                 "expected an IPv4 address and prefix length"]),
    "addr-without-prefix": (["--addr", "10.0.0.2"], ["--addr '10.0.0.2'"]),
    "addr-prefix-33": (["--addr", "10.0.0.2/33"], ["--addr '10.0.0.2/33'"]),
    "addr-loopback": (["--addr", "127.0.0.1/8"], ["--addr '127.0.0.1/8'", "loopback"]),
    "addr-missing": (["--vlan", "7"], ["--addr is required"]),
    "addr-without-value": (["--addr"], ["--addr needs a value"]),
    "unknown-option": (["--addr", "10.0.0.2/24", "--bogus", "1"],
                       ["unknown option '--bogus'"]),
    "stray-argument": (["--addr", "10.0.0.2/24", "extra"], ["'extra'"]),
    "gateway-off-subnet": (["--addr", "10.0.0.2/24", "--gateway", "10.0.1.1"],
                           ["--gateway '10.0.1.1'", "10.0.0.2/24"]),
    "gateway-is-own-address": (["--addr", "10.0.0.2/24", "--gateway", "10.0.0.2"],
                               ["--gateway '10.0.0.2'"]),
    "gateway-not-an-address": (["--addr", "10.0.0.2/24", "--gateway", "router"],
                               ["--gateway 'router'"]),
    "vlan-4095": (["--addr", "10.0.0.2/24", "--vlan", "4095"],
                  ["--vlan '4095'", "1 to 4094"]),
    "vlan-0": (["--addr", "10.0.0.2/24", "--vlan", "0"], ["--vlan '0'"]),
    "vlan-not-a-number": (["--addr", "10.0.0.2/24", "--vlan", "7x"], ["--vlan '7x'"]),
    "duration-0": (["--addr", "10.0.0.2/24", "--duration", "0"], ["--duration '0'"]),
    "mbufs-too-few": (["--addr", "10.0.0.2/24", "--mbufs", "10"], ["--mbufs '10'"]),
    "mtu-too-small": (["--addr", "10.0.0.2/24", "--mtu", "67"], ["--mtu '67'"]),
    "arp-entries-too-few": (["--addr", "10.0.0.2/24", "--arp-entries", "7"],
                            ["--arp-entries '7'"]),
}


@pytest.mark.parametrize("args,expected", list(BAD_ARGS.values()), ids=list(BAD_ARGS))
def test_bad_engine_args_exit_2_naming_flag_and_value(sluice_bin, args, expected):
    done, _ = run_sluice(sluice_bin, args)
    assert done.returncode == 2, f"status {done.returncode}\n{done.stdout}{done.stderr}"
    lines = done.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{done.stderr}"
    assert lines[0].startswith("sluice: "), lines[0]
    for text in expected:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    assert done.stdout == "", done.stdout
    assert "EAL" not in done.stderr


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_usage_and_exits_0(sluice_bin, flag):
    # --help wins even next to options that would be refused.
    done, _ = run_sluice(sluice_bin, ["--vlan", "4095", flag])
    assert done.returncode == 0, f"status {done.returncode}\n{done.stdout}{done.stderr}"
    assert done.stdout.startswith("usage: sluice"), done.stdout
    for option in ("--addr", "--gateway", "--vlan", "--duration", "--help"):
        assert option in done.stdout, f"{option} missing from the usage text"
    assert done.stderr == "", done.stderr


# (config file text, engine args after --config FILE, text the one error line must contain, with
# FILE for the file's path): the file, the line, [section] key and the offending value.
BAD_CONFIGS = {
    "value-out-of-range": ("[engine]\naddr = 10.0.0.2/24\n\n[tcp]\nmsl = 0\n", [],
                           ["FILE:5: [tcp] msl '0': expected seconds from 1 to 600"]),
    "gateway-off-subnet": ("[engine]\naddr = 10.0.0.2/24\ngateway = 10.0.1.1\n", [],
                           ["FILE:3: [engine] gateway '10.0.1.1'", "10.0.0.2/24"]),
    "unknown-key": ("[engine]\naddr = 10.0.0.2/24\nrouter = 10.0.0.1\n", [],
                    ["FILE:3: [engine] router: unknown key"]),
    "unknown-section": ("[engine]\naddr = 10.0.0.2/24\n[routes]\n", [],
                        ["FILE:3: [routes]: unknown section"]),
    "not-key-value": ("[engine]\naddr 10.0.0.2/24\n", [],
                      ["FILE:2: 'addr 10.0.0.2/24': expected [section] or key = value"]),
    # The file is read first, even when the flags that follow would override it.
    "bad-file-value-under-good-flag": ("[engine]\naddr = 10.0.0.2/24\nvlan = 4095\n",
                                       ["--vlan", "7"], ["FILE:3: [engine] vlan '4095'"]),
    "flag-overrides-file-then-is-checked": ("[engine]\naddr = 10.0.0.2/24\n",
                                            ["--workers", "65"], ["--workers '65'"]),
}


@pytest.mark.parametrize("text,more_args,expected", list(BAD_CONFIGS.values()),
                         ids=list(BAD_CONFIGS))
def test_bad_config_file_exits_2_naming_file_line_and_key(sluice_bin, tmp_path, text, more_args,
                                                          expected):
    config = tmp_path / "bad.ini"
    config.write_text(text)
    done, _ = run_sluice(sluice_bin, ["--config", str(config), *more_args])
    assert done.returncode == 2, f"status {done.returncode}\n{done.stdout}{done.stderr}"
    lines = done.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{done.stderr}"
    assert lines[0].startswith("sluice: "), lines[0]
    for text in expected:
        text = text.replace("FILE", str(config))
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    assert done.stdout == "", done.stdout
    assert "EAL" not in done.stderr


def test_missing_config_file_exits_2_naming_path_and_errno(sluice_bin, tmp_path):
    missing = tmp_path / "missing.ini"
    done, _ = run_sluice(sluice_bin, ["--addr", "10.0.0.2/24", "--config", str(missing)])
    assert done.returncode == 2, f"status {done.returncode}\n{done.stdout}{done.stderr}"
    assert done.stderr == f"sluice: --config '{missing}': cannot read it: No such file or directory\n"
    assert done.stdout == "", done.stdout
