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
refuse() {
	if dmsetup create x --table "$1" 2>/dev/null; then
		dmsetup remove x
		die "accepted: $1"
	fi
}
refuse "0 $len remap"
refuse "0 $len remap $data"
refuse "0 $len remap $data 1"
refuse "0 $len remap $data 2 $spare"
refuse "0 $len remap $data x $spare"
refuse "0 $len remap $data 0"                      # its spare is missing
refuse "0 $len remap /dev/nonexistent 1 $spare"
refuse "0 $len remap $plain 1 $spare"              # not a member
refuse "0 $len remap $spare 1 $data"               # spare given as data
refuse "0 $len remap $data 1 $other"               # member of another set
refuse "0 $len remap $data 1 $data"                # the same device twice
refuse "0 $((len - 8)) remap $data 1 $spare"        # wrong length
refuse "0 $len remap $data 1 $spare 1 bogus"
refuse "0 $len remap $data 1 $spare 1 read_retries"
refuse "0 $len remap $data 1 $spare 2 read_retries 0"
refuse "0 $len remap $data 1 $spare 2 read_retries 1000"
refuse "0 $len remap $data 1 $spare 2 read_retries abc"
refuse "0 $len remap $data 1 $spare 9 no_auto_remap"
refuse "0 $len remap $data 1 $spare 1 no_auto_remap extra"
dmsetup create b --table "0 $len remap $data 1 $spare 3 no_auto_remap read_retries 5"
expect_eq "table line" "0 $len remap 251:0 1 251:1 3 no_auto_remap read_retries 5" \
	"$(dmsetup table b | sed -E 's/[0-9]+:[0-9]+/MAJ/g; s/MAJ/251:0/; s/MAJ/251:1/')"
refuse "0 $len remap $data 0 2 degraded extra"
for msg in "" "bogus" "list_remaps x" "list_remaps 0 0" "list_remaps 1 2 3" "stats extra" "help me" \
	"remap" "remap 1 2" "spare_add" "spare_add $spare" "spare_add $data" "spare_add /dev/null" \
	"spare_add 1:2:3" "spare_add $plain $(printf 'p%.0s' $(seq 1 300))" "spare_add a b c" \
	"spare_remove" "spare_remove $data" "spare_remove $plain" "spare_remove $spare later" \
	"spare_remove $spare evacuate x"; do
	# shellcheck disable=SC2086
	if dmsetup message b 0 $msg 2>/dev/null; then die "message accepted: '$msg'"; fi
done
dmsetup message b 0 help | grep -q list_remaps || die "help does not list list_remaps"

# Bounded fuzz: random table lines and messages from a mix of valid and
# garbage tokens. Only the absence of crashes is checked here.
python3 - "$data" "$spare" "$other" "$plain" "$len" <<'PY'
import random, subprocess, sys
data, spare, other, plain, length = sys.argv[1:]
tokens = [data, spare, other, plain, "/dev/null", "0", "1", "2", "3", "64", "-1", "4294967296",
          "read_retries", "no_auto_remap", "degraded", "evacuate", "", "x" * 300, "%s", "\\x00", length]
rnd = random.Random(20261127)
for i in range(300):
    line = f"0 {rnd.choice([length, '8', '0', '99999999999'])} remap " + " ".join(
        rnd.choice(tokens) for _ in range(rnd.randint(0, 8)))
    r = subprocess.run(["dmsetup", "create", f"fz{i}", "--table", line], capture_output=True)
    if r.returncode == 0:
        subprocess.run(["dmsetup", "remove", f"fz{i}"], check=True)
verbs = ["list_remaps", "stats", "help", "spare_stats", "clear_stats", "remap", "spare_add", "spare_remove", "x"]
for i in range(300):
    msg = [rnd.choice(verbs)] + [rnd.choice(tokens + ["18446744073709551615"]) for _ in range(rnd.randint(0, 4))]
    subprocess.run(["dmsetup", "message", "b", "0", *msg], capture_output=True)
print("fuzzed 300 table lines and 300 messages")
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
if dmsetup create ro --table "$oline" 2>/dev/null; then die "read-write table over an ro_compat feature accepted"; fi
dmsetup create ro --readonly --table "$oline" || die "read-only table over an ro_compat feature refused"
dmsetup remove ro
echo "bad input: every malformed line and message refused"
