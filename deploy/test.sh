#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what it needs, builds a normal and
# an AddressSanitizer+UBSan tree, runs the unit tests in both and the interop tests against real
# Linux peers, and ends with one line: "N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/lib.sh"

require_root
ensure_packages

RESULTS=$(mktemp -d /tmp/sluice-results.XXXXXX)
trap 'rm -rf "$RESULTS"' EXIT

echo "== build: release tree with the benchmarks (build/) and sanitizer tree (build-asan/)"
SLUICE_ENFORCE_OPTIONS=1 build_tree build -Dtests=true -Dbenchmarks=true
SLUICE_ENFORCE_OPTIONS=1 build_tree build-asan -Dtests=true -Dbenchmarks=false -Db_sanitize=address,undefined -Db_lundef=false

echo "== unit tests"
"$SLUICE_ROOT/build/tests/unit_tests" --gtest_brief=1 \
  --gtest_output="json:$RESULTS/unit.json" || true
echo "== unit tests under AddressSanitizer and UBSan"
# Sanitizer findings exit with 86, test failures with 1: only the former is an extra failure.
status=0
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=86 \
ASAN_OPTIONS=detect_leaks=1:exitcode=86 \
  "$SLUICE_ROOT/build-asan/tests/unit_tests" --gtest_brief=1 \
  --gtest_output="json:$RESULTS/unit-asan.json" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
  echo "sanitizer run exited with status $status" | tee "$RESULTS/asan-status"
fi

echo "== interop tests against the Linux kernel (namespaces, veth, net_af_packet)"
SLUICE_BIN="$SLUICE_ROOT/build/control/sluice" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
  --junitxml="$RESULTS/interop.xml" "$SLUICE_ROOT/tests/interop" || true

/usr/bin/python3 "$SLUICE_ROOT/tests/tally.py" "$RESULTS"
