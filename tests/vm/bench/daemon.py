#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Guest side of scripts/bench: dm-remapd's footprint (tests/vm/bench/
bench.sh runs it last). The daemon as the D-Bus tests run it: a private
system bus with the real policy, polkit mocked (tests/dbus/dbus_env.py).

  daemon.py COUNT...

For each COUNT of active sets (small null_blks, made with dmremapctl
behind the daemon's back, as an admin would): its resident memory once
idle, and how much of it is its own data; GetManagedObjects' latency
(CALLS calls, one after the other, from an open connection: median and
99th percentile, as tests/vm/bench/gmo.cpp times them, the reply received
whole and not decoded) and the daemon's own CPU time a call; and its
context switches in IDLE_S seconds with no call (no polling: zero;
$BENCH_IDLE_S, default 10). Prints "BENCH-VALUE" lines; latencies are guest time, instructions
under icount. With $BENCH_PERF set, the calls at the largest COUNT run
under perf record, and where the daemon's time went is printed to stderr
(scripts/bench --profile).
"""
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["DMREMAP_SRC"], "tests", "dbus"))
import dbus_env as E  # noqa: E402

CALLS = 50
IDLE_S = int(os.environ.get("BENCH_IDLE_S", "10"))


def nullb(name, mb):
    d = "/sys/kernel/config/nullb/" + name
    os.mkdir(d)
    for key, value in (("size", mb), ("blocksize", 4096), ("memory_backed", 1), ("power", 1)):
        with open(os.path.join(d, key), "w") as f:
            f.write(str(value))
    E.wait_for(lambda: os.path.exists("/dev/" + name), what="/dev/" + name)
    return "/dev/" + name


def value(name, v, unit, count):
    print("BENCH-VALUE " + json.dumps({"group": "daemon", "medium": "%d sets" % count, "name": name,
                                       "value": v, "unit": unit}), flush=True)


def memory_kib(pid):
    """Resident, and of that the daemon's own data (anonymous: heap,
    stacks). The rest is the code of the program and its libraries, pages
    of files that the kernel may drop and read again."""
    with open("/proc/%d/smaps_rollup" % pid) as f:
        kib = {line.split(":")[0]: int(line.split()[1]) for line in f if line.rstrip().endswith(" kB")}
    return kib["Rss"], kib["Anonymous"]


def cpu_ns(pid):
    """Time the daemon's threads have run, in ns (guest time)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
            total += int(f.read().split()[0])
    return total


def main():
    counts = sorted(int(c) for c in sys.argv[1:])
    if not counts:
        raise SystemExit(__doc__)
    E.start()
    made = []
    try:
        om = E.ENV.bus.get_object(E.NAME, E.ROOT, introspect=False)
        managed = om.get_dbus_method("GetManagedObjects", E.OM_IF)
        devices = lambda: sum(1 for ifs in managed().values() if E.DEV_IF in ifs)  # noqa: E731
        pid = E.ENV.daemon.pid
        for count in counts:
            while len(made) < count:
                name = "dd%d" % len(made)
                dev = nullb(name, 8)
                subprocess.run([E.DMREMAPCTL, "create", "--name", name, "--internal-spare", "1M",
                                "--max-remaps", "256", dev], check=True, stdout=subprocess.DEVNULL)
                made.append(name)
            E.wait_for(lambda: devices() == count, timeout=300, what="%d Device objects" % count)
            gmo = [os.path.join(os.environ["DMREMAP_BUILD"], "tests", "vm", "bench-gmo"), str(CALLS)]
            perf = os.environ.get("BENCH_PERF") and count == counts[-1]
            if perf:
                gmo = ["perf", "record", "-q", "-e", "cpu-clock", "-F", "4000", "-g", "-p", str(pid),
                       "-o", "/tmp/daemon.perf", "--"] + gmo
            cpu0 = cpu_ns(pid)
            out = subprocess.run(gmo, check=True, stdout=subprocess.PIPE, env=E.ENV.env, text=True).stdout
            cpu = (cpu_ns(pid) - cpu0) / CALLS
            lat = sorted(int(ns) / 1e9 for ns in out.split())
            if len(lat) != CALLS:
                raise SystemExit("bench-gmo gave %d latencies, not %d" % (len(lat), CALLS))
            if perf:
                report = subprocess.run(["perf", "report", "-q", "-i", "/tmp/daemon.perf", "--no-children",
                                         "--sort", "dso,sym", "--stdio", "-g", "none", "--percent-limit", "0.7"],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
                print("=== dm-remapd during GetManagedObjects with %d sets, by share of samples (self):\n%s"
                      % (count, report), file=sys.stderr, flush=True)
            value("GetManagedObjects median", round(statistics.median(lat) * 1e3, 2), "ms", count)
            value("GetManagedObjects p99", round(lat[int(len(lat) * 0.99) - 1] * 1e3, 2), "ms", count)
            # The latency includes dbus-daemon passing the call and the
            # reply on; this is the daemon's own part.
            value("GetManagedObjects, the daemon's CPU a call", round(cpu / 1e6, 2), "ms", count)
            time.sleep(1)  # the last answer has gone out
            before = E.context_switches(pid)
            time.sleep(IDLE_S)
            value("context switches in %d s idle" % IDLE_S, E.context_switches(pid) - before, "", count)
            rss, anon = memory_kib(pid)
            value("resident memory, idle", round(rss / 1024, 2), "MiB", count)
            value("of it its own data (anonymous)", round(anon / 1024, 2), "MiB", count)
    finally:
        for name in made:
            subprocess.run([E.DMREMAPCTL, "stop", name], stdout=subprocess.DEVNULL)
        E.stop()


if __name__ == "__main__":
    main()
