#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Guest side of scripts/bench: fio workloads on a baseline device and on
the devices measured against it, A/B interleaved, in the same guest.

  ab.py GROUP MEDIUM ROUNDS RUNTIME BASE=DEV[@OFFSET] NAME=DEV[@OFFSET]... -- WORKLOAD...

Each round runs every workload on every device, the order of the devices
reversed from one round to the next (ABBA: drift in the guest, a page
cache warming, a null_blk allocating, falls on both sides alike). Prints
one line per run, "BENCH " and a JSON object: group, medium, workload,
device, the baseline's name, round, IOPS and bytes a second. tests/vm/bench/
report.py makes the ratios.

Each device's runs stay within SIZE bytes from OFFSET (fio's --offset,
such as 256M; default 0). A WORKLOAD is a name: 4k-randread-qd1, 4k-randwrite-qd32, 1m-read-qd1 ...
(block size, fio's rw, queue depth).
"""
import json
import os
import re
import subprocess
import sys

# Of each device: what every run reads or writes within ($BENCH_SIZE_MB,
# default 192; the smoke run takes less).
SIZE = os.environ.get("BENCH_SIZE_MB", "192") + "M"


def fio_args(workload, dev, runtime):
    dev, _, offset = dev.partition("@")
    m = re.fullmatch(r"(\d+)([km])-(randread|randwrite|read|write)-qd(\d+)", workload)
    if not m:
        raise SystemExit(f"ab.py: bad workload {workload!r}")
    bs = m[1] + m[2]
    return ["fio", "--name=b", f"--filename={dev}", f"--rw={m[3]}", f"--bs={bs}", "--direct=1",
            "--ioengine=libaio", f"--iodepth={m[4]}", f"--offset={offset or 0}", f"--size={SIZE}",
            f"--runtime={runtime}",
            "--time_based", "--randrepeat=1", "--norandommap", "--output-format=json"]


def run(workload, dev, runtime):
    r = subprocess.run(fio_args(workload, dev, runtime), capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"ab.py: fio {workload} on {dev} failed: {r.stderr.strip()}")
    job = json.loads(r.stdout[r.stdout.index("{"):])["jobs"][0]
    side = job["write"] if "write" in workload else job["read"]
    if job["error"] or side["total_ios"] == 0:
        raise SystemExit(f"ab.py: fio {workload} on {dev}: error {job['error']}, {side['total_ios']} I/Os")
    return side["iops"], side["bw_bytes"]


def main():
    args = sys.argv[1:]
    if "--" not in args or len(args) < 7:
        raise SystemExit(__doc__)
    cut = args.index("--")
    (group, medium, rounds, runtime), devs, workloads = args[:4], args[4:cut], args[cut + 1:]
    devices = [d.split("=", 1) for d in devs]
    base = devices[0][0]
    for rnd in range(1, int(rounds) + 1):
        order = devices if rnd % 2 else devices[::-1]
        for workload in workloads:
            for name, dev in order:
                iops, bw = run(workload, dev, runtime)
                print("BENCH " + json.dumps({"group": group, "medium": medium, "workload": workload, "device": name,
                                             "baseline": base, "round": rnd, "iops": round(iops, 1),
                                             "bytes_per_s": bw}), flush=True)


if __name__ == "__main__":
    main()
