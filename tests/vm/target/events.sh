#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Device-mapper events, counted one write at a time: every new remap raises
# one, crossing 80% and 95% of the spare blocks one more each, exhaustion
# one (once), and spare_add one; "dmsetup wait" wakes on them.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
dev=$(nullb_create d0 64 4096)
s1=$(nullb_create s1 3 4096)
"$ctl" format --name e --max-remaps 4096 --internal-spare 0 "$dev" "$s1" > /dev/null
dmsetup create e --table "$("$ctl" table "$dev" "$s1")"
events() { dmsetup info -c --noheadings -o events e | tr -d ' '; }

# 258 failing blocks for 256 spare blocks (6.1's badblocks takes at most 512 sectors at once).
for b in $(seq 100 32 357); do
	s=$(data_sector "$dev" "$b")
	nullb_bad d0 "$s" $((s + 32 * 8 - 1))
done
# Kernel uevents, straight from netlink (what udevd reads), one JSON line each.
python3 -u - > /tmp/uevents <<'PY' &
import json, socket
s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 15)  # NETLINK_KOBJECT_UEVENT
s.bind((0, 1))
while True:
    fields = s.recv(65536).split(b"\0")
    print(json.dumps(dict(f.decode(errors="replace").split("=", 1) for f in fields[1:] if b"=" in f)))
PY
monitor=$!
sleep 1
# A waiter started now must wake on the first remap.
ev=$(events)
timeout 120 dmsetup wait e "$ev" > /tmp/wait.out 2>&1 &
waiter=$!
# One write per block; the run-length list of event increments it caused.
deltas=$(python3 - <<'PY'
import mmap, os, subprocess
def events():
    return int(subprocess.check_output(["dmsetup", "info", "-c", "--noheadings", "-o", "events", "e"]))
fd = os.open("/dev/mapper/e", os.O_WRONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
buf.write(b"x" * 4096)
out = []
for b in range(100, 358):
    e0 = events()
    try:
        os.pwritev(fd, [buf], b * 4096)
        r = "ok"
    except OSError:
        r = "eio"
    d = f"{r}+{events() - e0}"
    if out and out[-1][0] == d:
        out[-1][1] += 1
    else:
        out.append([d, 1])
print(" ".join(f"{d}x{n}" for d, n in out))
PY
)
rc=0
wait "$waiter" || rc=$?
expect_eq "dmsetup wait for a remap" 0 "$rc"
# 204 remaps, the 205th crosses 80%, 38 more, the 244th crosses 95%, 12
# more fill the spare; then the first failure raises one, the next none.
expect_eq "events per write" "ok+1x204 ok+2x1 ok+1x38 ok+2x1 ok+1x12 eio+1x1 eio+0x1" "$deltas"
expect_eq "exhausted" 1 "$(status_field e exhausted)"
# udev hears them too: change events of the mapped device, the last one exhausted.
sleep 2
kill "$monitor"
dm="dm-$(dmsetup info -c --noheadings -o minor e | tr -d ' ')"
python3 - "$dm" /tmp/uevents <<'PY' || die "uevents: $(tail -5 /tmp/uevents)"
import json, sys
want = sys.argv[1]
events = [json.loads(line) for line in open(sys.argv[2])]
ours = [e for e in events if e.get("DM_REMAP_EVENT") == "1" and e.get("DEVNAME", "").removeprefix("/dev/") == want]
assert ours and all(e.get("ACTION") == "change" for e in ours), "no change uevent from dm-remap"
assert ours[-1].get("DM_REMAP_EXHAUSTED") == "1", "the last uevent does not report exhaustion"
assert int(ours[-1].get("DM_REMAP_REMAPPED", "0")) == 256, "the last uevent does not count 256 remaps"
print(f"{len(ours)} change uevents")
PY

# spare_add: an event, not exhausted any more, and the next remap works.
s2=$(nullb_create s2 3 4096)
ev=$(events)
dmsetup message e 0 spare_add "$s2" > /dev/null || die "spare_add failed"
expect_eq "events from spare_add" $((ev + 1)) "$(events)"
expect_eq "exhausted after spare_add" 0 "$(status_field e exhausted)"
blocks write /dev/mapper/e 356 2 y || die "writes after spare_add"
expect_eq "remapped" 258 "$(status_field e remapped)"
dmsetup remove e
echo "events: per remap, at 80% and 95%, at exhaustion and on spare_add"
