#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Malformed table lines and messages get an error, never a crash: a list
# of known-bad inputs, then a bounded random fuzz. The harness fails the
# test on any WARNING, BUG or Oops in the guest log.
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
data=$(nullb_create d0 64 4096)
spare=$(nullb_create s0 32 4096)
other=$(nullb_create o0 64 4096)
plain=$(nullb_create p0 32 4096)
"$ctl" format --name b --max-remaps 256 --internal-spare 4M "$data" "$spare" > /dev/null
"$ctl" format --name o --max-remaps 256 --internal-spare 4M "$other" > /dev/null
len=$("$ctl" table "$data" "$spare" | awk '{print $2}')
# Another set's spare: refused as a stranger, not as a role mix-up.
ospare=$(nullb_create o1 32 4096)
"$ctl" format --name o2 --max-remaps 256 --internal-spare 0 "$(nullb_create o2 64 4096)" "$ospare" > /dev/null
# Each line with the errno and constructor error (ti->error) it must get.
usage="Expected <data_dev> <#spares> [<spare_dev>...] [<#opt_args> <opt_arg>...]"
fewer="Fewer spare devices than <#spares> says"
badopt="Unknown or incomplete optional argument"
retries="read_retries must be 1-100"
# A path that is no device: 6.1's dm_get_device says ENODEV, 6.12's passes on lookup_bdev's ENOENT.
case $(uname -r) in 6.1.*) nodev=ENODEV ;; *) nodev=ENOENT ;; esac
ctr_refused EINVAL "$usage" --table "0 $len remap"
ctr_refused EINVAL "$usage" --table "0 $len remap $data"
ctr_refused EINVAL "$fewer" --table "0 $len remap $data 1"
ctr_refused EINVAL "$fewer" --table "0 $len remap $data 2 $spare"
ctr_refused EINVAL "Invalid number of spare devices" --table "0 $len remap $data x $spare"
ctr_refused EINVAL "A spare member of the set is missing from the table line (\"degraded\" starts without it)" \
	--table "0 $len remap $data 0"
ctr_refused "$nodev" "Cannot open data device" --table "0 $len remap /dev/nonexistent 1 $spare"
ctr_refused EINVAL "not a dm-remap member (no valid superblock)" --table "0 $len remap $plain 1 $spare"
ctr_refused EINVAL "First device is not the data member of its set" --table "0 $len remap $spare 1 $data"
ctr_refused EINVAL "Spare device is the data member of its set" --table "0 $len remap $data 1 $other"
ctr_refused EINVAL "Device belongs to another set" --table "0 $len remap $data 1 $ospare"
ctr_refused EINVAL "Spare device is the data member of its set" --table "0 $len remap $data 1 $data"
ctr_refused EINVAL "Two devices claim the same member index" --table "0 $len remap $data 2 $spare $spare"
ctr_refused EINVAL "Target length differs from the set's data length" --table "0 $((len - 8)) remap $data 1 $spare"
ctr_refused EINVAL "$badopt" --table "0 $len remap $data 1 $spare 1 bogus"
ctr_refused EINVAL "$badopt" --table "0 $len remap $data 1 $spare 1 read_retries"
ctr_refused EINVAL "$retries" --table "0 $len remap $data 1 $spare 2 read_retries 0"
ctr_refused EINVAL "$retries" --table "0 $len remap $data 1 $spare 2 read_retries 1000"
ctr_refused EINVAL "$retries" --table "0 $len remap $data 1 $spare 2 read_retries abc"
ctr_refused EINVAL "Invalid number of optional arguments" --table "0 $len remap $data 1 $spare 9 no_auto_remap"
ctr_refused EINVAL "Too many arguments" --table "0 $len remap $data 1 $spare 1 no_auto_remap extra"
dmsetup create b --table "0 $len remap $data 1 $spare 3 no_auto_remap read_retries 5"
expect_eq "table line" "0 $len remap 251:0 1 251:1 3 no_auto_remap read_retries 5" \
	"$(dmsetup table b | sed -E 's/[0-9]+:[0-9]+/MAJ/g; s/MAJ/251:0/; s/MAJ/251:1/')"
ctr_refused EINVAL "$badopt" --table "0 $len remap $data 0 2 degraded extra"
# Messages: errno, and the log line naming the device and the reason where
# the target writes one ("" where it writes none: argument-count and
# list_remaps refusals are bare EINVAL).
n=$(dm_name b)
long=$(printf 'p%.0s' $(seq 1 300))
msg_refused() { local errno=$1 logged=$2; shift 2; refused_with "$errno" "$logged" dmsetup message b 0 "$@"; }
msg_refused EINVAL "remap: unrecognised message 'bogus'" bogus
msg_refused EINVAL "" list_remaps x
msg_refused EINVAL "" list_remaps 0 0
msg_refused EINVAL "" list_remaps 1 2 3
msg_refused EINVAL "remap: unrecognised message 'stats'" stats extra
msg_refused EINVAL "remap: unrecognised message 'help'" help me
msg_refused EINVAL "remap: unrecognised message 'remap'" remap
msg_refused EINVAL "remap: unrecognised message 'remap'" remap 1 2
msg_refused EINVAL "" spare_add
msg_refused EEXIST "$n: spare_add: $spare is already member 1 of this set" spare_add "$spare"
msg_refused EEXIST "$n: spare_add: $data is already member 0 of this set" spare_add "$data"
msg_refused ENOTBLK "$n: spare_add: no block device '/dev/null'" spare_add /dev/null
msg_refused ENOENT "$n: spare_add: no block device '1:2:3'" spare_add 1:2:3
msg_refused ENAMETOOLONG "$n: spare_add: image path longer than 207 bytes" spare_add "$plain" "$long"
msg_refused EINVAL "" spare_add a b c
msg_refused EINVAL "" spare_remove
msg_refused EINVAL "$n: spare_remove: $data is the data member" spare_remove "$data"
msg_refused ENODEV "$n: spare_remove: $plain is not a spare of this set" spare_remove "$plain"
msg_refused EINVAL "" spare_remove "$spare" later
msg_refused EINVAL "" spare_remove "$spare" evacuate x
# No message at all never reaches the kernel: dmsetup refuses it itself.
if err=$(dmsetup message b 0 2>&1); then die "an empty message was accepted"; fi
dmsetup message b 0 help | grep -q list_remaps || die "help does not list list_remaps"

# Bounded fuzz: random table lines and messages from a mix of valid and
# garbage tokens. Only the absence of crashes is checked here.
# Straight ioctls, as dmsetup makes them, without a process each: a table
# load per line into one device (the constructor), resumed and recreated
# when one is accepted, and messages to b.
python3 - "$data" "$spare" "$other" "$plain" "$len" <<'PY'
import fcntl, os, random, struct, sys
data, spare, other, plain, length = sys.argv[1:]
ctl = os.open("/dev/mapper/control", os.O_RDWR)


def dm(cmd, name, payload=b"", targets=0, flags=0):
    hdr = bytearray(312)
    struct.pack_into("=6I", hdr, 0, 4, 0, 0, 312 + len(payload), 312, targets)
    struct.pack_into("=I", hdr, 28, flags)
    hdr[48:48 + len(name)] = name.encode()
    buf = bytearray(hdr + payload + bytes(16 * 1024))  # room for results
    struct.pack_into("=I", buf, 12, len(buf))
    fcntl.ioctl(ctl, (3 << 30) | (312 << 16) | (0xFD << 8) | cmd, buf)


CREATE, REMOVE, RESUME, LOAD, MSG = 3, 4, 6, 9, 14
tokens = [data, spare, other, plain, "/dev/null", "0", "1", "2", "3", "64", "-1", "4294967296",
          "read_retries", "no_auto_remap", "degraded", "evacuate", "", "x" * 300, "%s", "\\x00", length]
rnd = random.Random(20261127)
dm(CREATE, "fz")


def load(params, size=length):
    spec = struct.pack("=QQiI16s", 0, int(size), 0, 0, b"remap") + params.encode() + b"\0"
    dm(LOAD, "fz", spec + bytes(-len(spec) % 8), targets=1)


# Controls: the hand-packed ioctls reach the target (a valid line loads, a
# valid message is answered), so the refusals below are the target's.
load(f"{data} 1 {spare} 1 degraded")
dm(REMOVE, "fz")
dm(CREATE, "fz")
dm(MSG, "b", struct.pack("=Q", 0) + b"help\0")
accepted = 0
for i in range(300):
    size = rnd.choice([length, "8", "0", "99999999999"])
    try:
        load(" ".join(rnd.choice(tokens) for _ in range(rnd.randint(0, 8))), size)
    except OSError:
        continue
    accepted += 1
    try:
        dm(RESUME, "fz")
    except OSError:
        pass
    dm(REMOVE, "fz")
    dm(CREATE, "fz")
dm(REMOVE, "fz")
verbs = ["list_remaps", "stats", "help", "spare_stats", "clear_stats", "remap", "spare_add", "spare_remove", "x"]
for i in range(300):
    msg = " ".join([rnd.choice(verbs)] + [rnd.choice(tokens + ["18446744073709551615"]) for _ in range(rnd.randint(0, 4))])
    try:
        dm(MSG, "b", struct.pack("=Q", 0) + msg.encode() + b"\0")
    except OSError:
        pass
print(f"fuzzed 300 table lines ({accepted} accepted) and 300 messages")
PY
dmsetup remove b

# A feature this module can only read (an unknown ro_compat flag in both
# superblock copies of the data member): read-write refused, read-only loads.
oline=$("$ctl" table "$other")
python3 - "$other" <<'PY'
import os, struct, sys
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff
fd = os.open(sys.argv[1], os.O_RDWR)
for off in (0, 4096):
    blk = bytearray(os.pread(fd, 4096, off))
    struct.pack_into("<I", blk, 20, struct.unpack_from("<I", blk, 20)[0] | 0x80000000)
    struct.pack_into("<I", blk, 8, 0)
    struct.pack_into("<I", blk, 8, crc32c(bytes(blk)))
    os.pwrite(fd, bytes(blk), off)
os.fsync(fd)
PY
ctr_refused EROFS "A member has features this module can only read: load the table read-only" --table "$oline"
dmsetup create ro --readonly --table "$oline" || die "read-only table over an ro_compat feature refused"
dmsetup remove ro

# A list longer than the message buffer comes back whole: the target says
# the buffer is full (DM_BUFFER_FULL_FLAG) and libdevmapper asks again with
# a larger one, instead of getting a silently shortened list.
big=$(nullb_create q0 64 4096)
"$ctl" format --name q --max-remaps 4096 --internal-spare 4M "$big" > /dev/null
"$ctl" dump --json "$big" | jq '.remaps = [range(0; 3000) | {block: ., state: "pending"}]' > /tmp/q.json
"$ctl" restore --force --from /tmp/q.json "$big" > /dev/null || die "restore of 3000 pending blocks failed"
dmsetup create q --table "$("$ctl" table "$big")"
expect_eq "pending blocks loaded" 3000 "$(status_field q pending)"
dmsetup message q 0 list_remaps 0 5000 > /tmp/q.list || die "list_remaps of 3000 entries failed"
expect_eq "entries listed" 3000 "$(wc -l < /tmp/q.list)"
expect_eq "last entry listed" "2999 pending -" "$(tail -n 1 /tmp/q.list)"
dmsetup remove q
echo "bad input: every malformed line and message refused"
