"""Adds up the results of every runner in a results directory and prints the closing line.

GoogleTest JSON (--gtest_output=json) and JUnit XML (pytest --junitxml) are read; a runner that
crashed before writing its file, or a sanitizer run that exited non-zero, counts as a failure, so a
crash can never pass for success. Exit status: 0 only when nothing failed.
"""
import json
import pathlib
import sys
import xml.etree.ElementTree as ET

EXPECTED = ["unit.json", "unit-asan.json", "interop.xml"]


def main(results: pathlib.Path) -> int:
    passed = failed = 0
    for name in EXPECTED:
        path = results / name
        if not path.exists():
            print(f"tally: {name} is missing (its runner crashed or did not start): 1 failure")
            failed += 1
            continue
        if name.endswith(".json"):
            data = json.loads(path.read_text())
            for suite in data.get("testsuites", []):
                for case in suite.get("testsuite", []):
                    if case.get("result") == "SKIPPED" or case.get("status") == "NOTRUN":
                        failed += 1  # nothing is allowed to be skipped
                    elif case.get("failures"):
                        failed += 1
                    else:
                        passed += 1
        else:
            root = ET.parse(path).getroot()
            for case in root.iter("testcase"):
                if case.find("skipped") is not None or case.find("failure") is not None \
                        or case.find("error") is not None:
                    failed += 1
                else:
                    passed += 1
    status = results / "asan-status"
    if status.exists() and status.read_text().strip():
        print(f"tally: {status.read_text().strip()}: 1 failure")
        failed += 1
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1])))
