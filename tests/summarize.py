#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The verdict of ./scripts/test over one or more meson test logs.

  summarize.py [--allow FILE] [--wall SECONDS] LOG.json...

A test passes when meson says OK (or EXPECTEDFAIL) and every skip inside it
is allowed. A skip is either a whole test meson reports as SKIP (exit 77)
or one "SKIPPED: <id>: <reason>" line in a test's output (tests/testmain.py,
the Python test files in and out of the VM). A skip that the allow-list
does not name fails the run: a run that skipped something did not pass.

Prints the last lines of each failed test's output (CI keeps only the tail
of a run's output, so a failure's reason must be near the end), every skip
with its verdict, the time of each suite and the five slowest tests, each
failed test's FAIL and error lines again, then the closing line "N passed, M failed, K skipped"
(K: skips inside tests and skipped tests, all allowed when M is 0).
Exit status 1 when anything failed.
"""
import argparse
import fnmatch
import json
import re
import sys
from collections import defaultdict

# Enough to hold a failing VM test's verdict and the guest's last words,
# few enough that two failures and the summary stay in CI's tail.
FAILED_LINES = 40
FAILED_SHOWN = 3
STDERR_LINES = 8
KERNEL_LOG_START = "----- guest kernel log"
SKIPPED_LINE = re.compile(r"^SKIPPED: (.+?): (.*)$", re.M)


def load_allow(path):
    """(meson test glob, skipped id glob, why) per line; '#' starts a comment."""
    rules = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split(None, 2)
            if len(parts) < 3:
                raise SystemExit(f"{path}:{n}: expected 'TEST ID WHY', got {line!r}")
            rules.append(tuple(parts))
    return rules


def allowed(rules, test, skipped_id):
    return any(fnmatch.fnmatchcase(test, t) and fnmatch.fnmatchcase(skipped_id, i) for t, i, _ in rules)


def tail_parts(lines):
    """A failed test's output to show: its last lines, or, when vmtest
    printed the guest's kernel log after the test's output, the last lines
    of each (a hang shows in the kernel's hung-task reports)."""
    start = next((i for i, line in enumerate(lines) if line.startswith(KERNEL_LOG_START)), None)
    if start is None:
        return [("the last lines of its output", lines[-FAILED_LINES:])]
    half = FAILED_LINES // 2
    kern = lines[start + 1:]
    parts = [("the last lines of its output", lines[:start][-half:])]
    hung = next((i for i, line in enumerate(kern) if "blocked for more than" in line), None)
    if hung is not None:
        parts.append(("the guest kernel's first hung-task report", kern[hung:hung + half]))
    parts.append(("the last lines of the guest kernel's log", kern[-(half if hung is None else 5):]))
    return parts


REASON_LINE = re.compile(r"^\s*(FAIL: |\w*Error: |vmtest: FAIL)")


def reasons(stdout, stderr, most=3):
    """A failed test's own words on why, a few lines: repeated at the very
    end, as CI's excerpt of a long run may cut the tails above."""
    start = next((i for i, line in enumerate(stdout) if line.startswith(KERNEL_LOG_START)), len(stdout))
    found = [line.strip() for line in stdout[:start] if REASON_LINE.match(line)][-most:]
    # vmtest's verdict only when the test said nothing itself.
    return found or [line.strip() for line in stderr if REASON_LINE.match(line)][-1:]


def fmt_time(s):
    return f"{int(s) // 60} min {int(s) % 60:02d} s"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--allow", help="allow-list of skips (tests/skips-allowed)")
    p.add_argument("--wall", type=float, help="wall-clock seconds of the whole run, printed")
    p.add_argument("logs", nargs="+")
    a = p.parse_args()
    rules = load_allow(a.allow) if a.allow else []

    passed, failed, skips, bad_skips = [], [], [], []
    failed_output = {}
    suite_time, suite_count, durations = defaultdict(float), defaultdict(int), []
    for log in a.logs:
        with open(log) as f:
            for line in f:
                r = json.loads(line)
                # "dm-remap:vm+vm-6.1 / remap-basic@6.1": the first suite names the group.
                suites, _, name = r["name"].rpartition(" / ")
                group = suites.split(":", 1)[-1].split("+")[0]
                suite_time[group] += r["duration"]
                suite_count[group] += 1
                durations.append((r["duration"], name))
                mine = []
                if r["result"] == "SKIP":
                    mine.append((name, "*", "the whole test exited 77"))
                for sid, why in SKIPPED_LINE.findall((r.get("stdout") or "") + "\n" + (r.get("stderr") or "")):
                    mine.append((name, sid, why.strip()))
                skips += mine
                not_allowed = [s for s in mine if not allowed(rules, s[0], s[1])]
                bad_skips += not_allowed
                if r["result"] in ("OK", "EXPECTEDFAIL") and not not_allowed:
                    passed.append(name)
                elif r["result"] == "SKIP" and not not_allowed:
                    pass
                else:
                    failed.append(name)
                    failed_output[name] = ((r.get("stdout") or "").splitlines(), (r.get("stderr") or "").splitlines())

    for name in failed[:FAILED_SHOWN]:
        stdout, stderr = failed_output[name]
        parts = tail_parts(stdout)
        if stderr:
            # vmtest's verdict and log lines.
            parts.append(("the last lines of its stderr", stderr[-STDERR_LINES:]))
        for what, lines in parts:
            print(f"--- {name}: {what} ---")
            for line in lines:
                print("  " + line[:200])
    if skips:
        print("Skips:")
        for test, sid, why in skips:
            verdict = "allowed" if allowed(rules, test, sid) else "NOT ALLOWED (fails the run)"
            print(f"  {test}: {sid}: {why} -- {verdict}")
    print("Time per suite (sum of test durations):")
    for group in sorted(suite_time, key=suite_time.get, reverse=True):
        print(f"  {group:10} {suite_count[group]:3} tests  {fmt_time(suite_time[group])}")
    print("Slowest tests:")
    for d, name in sorted(durations, reverse=True)[:5]:
        print(f"  {name:28} {fmt_time(d)}")
    if failed:
        print("Why they failed, in their own words:")
        for name in failed:
            for line in reasons(*failed_output[name]) or ["(no FAIL or error line in its output)"]:
                print(f"  {name}: {line[:300]}")
        print("Failed: " + " ".join(failed))
    if a.wall is not None:
        print(f"Wall time: {fmt_time(a.wall)} (budget: 45 min on a 2-core machine, docs/TESTING.md)")
    print(f"{len(passed)} passed, {len(failed)} failed, {len(skips)} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
