#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Device-mapper events, counted one write at a time: every new remap raises
# one, crossing 80% and 95% of the spare blocks one more each, exhaustion
# one (once), and spare_add one; "dmsetup wait" wakes on them; and udev
# hears every one as a change uevent carrying the state it followed.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
dev=$(nullb_create d0 64 4096)
s1=$(nullb_create s1 4 4096)
s2=$(nullb_create s2 4 4096)
"$ctl" format --name e --max-remaps 4096 --internal-spare 0 "$dev" "$s1" > /dev/null
dmsetup create e --uuid DMR-events-e --table "$("$ctl" table "$dev" "$s1")"
events() { dmsetup info -c --noheadings -o events e | tr -d ' '; }

# 258 failing blocks for 256 spare blocks (6.1's badblocks takes at most 512 sectors at once).
for b in $(seq 100 32 357); do
	s=$(data_sector "$dev" "$b")
	nullb_bad d0 "$s" $((s + 32 * 8 - 1))
done
# A waiter started now must wake on the first remap.
ev=$(events)
timeout 120 dmsetup wait e "$ev" > /tmp/wait.out 2>&1 &
waiter=$!
dm="dm-$(dmsetup info -c --noheadings -o minor e | tr -d ' ')"
# One write per block, then spare_add. The uevent listener (netlink, what
# udevd reads) is bound before the first write, in the same process; after
# each write that raised events it waits for the uevent that reports the
# new state. The event count is read with the DM_DEV_STATUS ioctl, as
# dmsetup reads it, without a process per write.
python3 - "$dm" "$waiter" "$s2" > /tmp/events.out <<'PY' || die "the writer failed"
import fcntl, json, mmap, os, socket, struct, subprocess, sys, time
dm, waiter, s2 = sys.argv[1:]
mon = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 15)  # NETLINK_KOBJECT_UEVENT
mon.bind((0, 1))
mon.settimeout(60)
ctl = os.open("/dev/mapper/control", os.O_RDWR)
DM_DEV_STATUS = (3 << 30) | (312 << 16) | (0xFD << 8) | 7  # _IOWR(0xfd, 7, struct dm_ioctl)


def events():
    req = bytearray(312)
    struct.pack_into("=4I", req, 0, 4, 0, 0, 312)  # version 4.0.0, data_size
    req[48:49] = b"e"  # name
    fcntl.ioctl(ctl, DM_DEV_STATUS, req)
    return struct.unpack_from("=I", req, 32)[0]  # event_nr


uevents = []


def until(remapped, exhausted):
    """Collects our uevents until one reports this state."""
    while True:
        fields = mon.recv(65536).split(b"\0")
        e = dict(f.decode(errors="replace").split("=", 1) for f in fields[1:] if b"=" in f)
        if e.get("DM_REMAP_EVENT") != "1" or e.get("DEVNAME", "").removeprefix("/dev/") != dm:
            continue
        uevents.append(e)
        if e.get("DM_REMAP_REMAPPED") == str(remapped) and e.get("DM_REMAP_EXHAUSTED") == str(exhausted):
            return


# The waiter must already wait when the first remap happens.
wchan, end = "", time.monotonic() + 60
while wchan not in ("dm_wait_event", "dev_wait"):  # waiting in DM_DEV_WAIT
    if time.monotonic() > end:
        sys.exit(f"dmsetup wait never got to wait (wchan {wchan!r})")
    time.sleep(0.05)
    kids = open(f"/proc/{waiter}/task/{waiter}/children").read().split()  # timeout runs dmsetup
    wchan = open(f"/proc/{kids[0]}/wchan").read() if kids else ""
fd = os.open("/dev/mapper/e", os.O_WRONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
buf.write(b"x" * 4096)
out, remapped, e0 = [], 0, events()
for b in range(100, 358):
    try:
        os.pwritev(fd, [buf], b * 4096)
        r = "ok"
        remapped += 1
    except OSError:
        r = "eio"
    e1 = events()
    if e1 > e0:
        until(remapped, int(r == "eio"))
    d = f"{r}+{e1 - e0}"
    e0 = e1
    if out and out[-1][0] == d:
        out[-1][1] += 1
    else:
        out.append([d, 1])
print("deltas " + " ".join(f"{d}x{n}" for d, n in out))
subprocess.run(["dmsetup", "message", "e", "0", "spare_add", s2], check=True, capture_output=True)
print(f"spare_add {events() - e0}")
until(remapped, 0)
for e in uevents:
    print("uevent " + json.dumps(e, sort_keys=True))
PY
rc=0
wait "$waiter" || rc=$?
expect_eq "dmsetup wait for a remap" 0 "$rc"
# 204 remaps, the 205th crosses 80%, 38 more, the 244th crosses 95%, 12
# more fill the spare; then the first failure raises one, the next none.
expect_eq "events per write" "ok+1x204 ok+2x1 ok+1x38 ok+2x1 ok+1x12 eio+1x1 eio+0x1" \
	"$(sed -n 's/^deltas //p' /tmp/events.out)"
expect_eq "events from spare_add" 1 "$(sed -n 's/^spare_add //p' /tmp/events.out)"
# Every uevent, in order, one per event with the state after it. The two
# events of one write (a threshold and the commit) may become one uevent,
# as the doc allows (the workqueue coalesces): there one or two, and the
# first of two may have read the state before the commit. The eio+0 write
# raised none: the next uevent is spare_add's.
python3 - "$dm" /tmp/events.out <<'PY' || die "uevents ($(grep -c ^uevent /tmp/events.out) received) not one per event"
import json, sys
dm = sys.argv[1]
got = [json.loads(line.split(" ", 1)[1]) for line in open(sys.argv[2]) if line.startswith("uevent ")]
for e in got:
    assert e["ACTION"] == "change" and e["DEVNAME"] == dm and e["DM_REMAP_PENDING"] == "0", e
    # Named, so udev's dm rules need not run dmsetup info for each.
    assert e.get("DM_NAME") == "e" and e.get("DM_UUID") == "DMR-events-e", e
groups = []
for s in [(int(e["DM_REMAP_REMAPPED"]), int(e["DM_REMAP_EXHAUSTED"])) for e in got]:
    if groups and groups[-1][0] == s:
        groups[-1][1] += 1
    else:
        groups.append([s, 1])
want = [(n, 0) for n in range(1, 257)] + [(256, 1), (256, 0)]
assert [s for s, _ in groups] == want, f"states in order: {[s for s, _ in groups]}"
n = dict((s, c) for s, c in groups)
for k in (205, 244):
    assert n[(k - 1, 0)] + n[(k, 0)] <= 3 and max(n[(k - 1, 0)], n[(k, 0)]) <= 2, (k, n[(k - 1, 0)], n[(k, 0)])
pairs = {(204, 0), (205, 0), (243, 0), (244, 0)}
assert all(c == 1 for s, c in n.items() if s not in pairs), [g for g in groups if g[1] > 1]
print(f"{len(got)} change uevents for 260 events, every state in order")
PY

# spare_add: not exhausted any more, and the next remap works.
expect_eq "exhausted after spare_add" 0 "$(status_field e exhausted)"
blocks write /dev/mapper/e 356 2 y || die "writes after spare_add"
expect_eq "remapped" 258 "$(status_field e remapped)"
dmsetup remove e
echo "events: per remap, at 80% and 95%, at exhaustion and on spare_add; a uevent for each"
