#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Harness self-test: vmtest.py gives the exact verdict for each way a
guest test can end, and for the right reason.

  check.py --kernel K --build DIR CASE...     (CASE: fail warn timeout skip)

Each case boots the guest once with tests/vm/selftest/cases.sh CASE and
checks vmtest's exit status, its verdict line and the test's output (which
shows how far the script got, so a FAIL for another reason - the module
not building, insmod failing, a boot timing out - does not count).
"""
import argparse
import concurrent.futures
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VMTEST = HERE.parent / "vmtest.py"
TIMEOUT = 150  # counted from QEMU start: a TCG boot beside two other guests (40 s in CI) must reach the script

# case: (exit status, verdict regex, what the script must have printed)
CASES = {
    "fail": (1, r"FAIL: exit status 3: cases\.sh", "about to fail on purpose"),
    "warn": (1, r"FAIL: the guest kernel reported: .*WARNING: .*vmtest_warn", "script finished normally"),
    "timeout": (1, rf"FAIL: no result within {TIMEOUT} s: cases\.sh", "sleeping past the timeout"),
    "skip": (77, r"SKIP: cases\.sh", "skipping on purpose"),
}


def check(case, kernel, build):
    want_rc, verdict_re, printed = CASES[case]
    cmd = [sys.executable, str(VMTEST), "run", "--kernel", kernel, "--build", build,
           "--timeout", str(TIMEOUT if case == "timeout" else 600), str(HERE / "cases.sh"), case]
    p = subprocess.run(cmd, capture_output=True, text=True)
    verdicts = [line for line in p.stderr.splitlines() if re.match(r"vmtest: (PASS|SKIP|FAIL)", line)]
    problems = []
    if p.returncode != want_rc:
        problems.append(f"exit status {p.returncode}, expected {want_rc}")
    if not verdicts or not re.search(verdict_re, verdicts[-1]):
        problems.append(f"verdict {verdicts[-1] if verdicts else '(none)'!r} does not match {verdict_re!r}")
    if printed not in p.stdout:
        problems.append(f"the script did not get as far as printing {printed!r}")
    if problems:
        print(f"{case}: " + "; ".join(problems))
        print(f"--- stdout ---\n{p.stdout[-4000:]}\n--- stderr ---\n{p.stderr[-4000:]}")
        return False
    print(f"{case}: {verdicts[-1]}")
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("cases", nargs="+", choices=sorted(CASES))
    a = ap.parse_args()
    # Two guests side by side: the timeout case sleeps most of its 150 s
    # while the others run one after the other beside it (one after the
    # other, the cases cost the CI run two minutes of a guest slot; all at
    # once, too much memory on a small machine).
    cases = sorted(a.cases, key=lambda c: c != "timeout")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        firsts = pool.submit(check, cases[0], a.kernel, a.build)
        rest = pool.submit(lambda: [check(c, a.kernel, a.build) for c in cases[1:]])
        results = [firsts.result()] + rest.result()
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
