#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Crash consistency of replace, by replay: the old and the new disk are
# slices of one device under dm-log-writes, so one log orders every write
# of both (the new disk's format, dm-mirror's copy, the writes made
# meanwhile, the switch's state, flags and first commits). Replayed to
# crash points from the start of the replace to its end, each then
# assembled as a boot would:
#  - exactly one disk assembles: the old one up to the commit point, the
#    new one from it on (never back), the new one once replace returned;
#  - every block written before reads back, and every write acknowledged
#    before the crash (a mark after it returned) reads back as written;
#  - the block pending on the old disk reads as an error, never as data.
# Checked: every point that writes a superblock or is part of the switch,
# and a sample of the others (the new disk's format, the copy).
. "$DMREMAP_SRC/tests/vm/target/lib-target.sh"
modprobe dm-mirror
modprobe dm-delay
replay_tool="$DMREMAP_SRC/tests/vm/log-writes-replay.py"
mib=2048 # sectors
raw=$(nullb_create raw 64 4096)
logdev=$(nullb_create lg 512 4096)
lw=$(logwrites_create lw "$raw" "$logdev")
bad=(50 100)
format=(--max-remaps 256 --internal-spare 2M)
doff=$(predicted_data_offset 24M -- "${format[@]}")
# slices DEV: the old disk = DEV[1M, 25M) with the bad blocks failing, the
# new one the 32M after it. Not from 0: DEV itself must carry no superblock.
old0=$mib new0=$((25 * mib))
slices() {
	local table="" pos=0 b s
	for b in "${bad[@]}"; do
		s=$((doff + b * 8))
		table+="$pos $((s - pos)) linear $1 $((old0 + pos))"$'\n'"$s 8 error"$'\n'
		pos=$((s + 8))
	done
	dmsetup create cold <<< "$table$pos $((24 * mib - pos)) linear $1 $((old0 + pos))"
	dmsetup create cnew --table "0 $((32 * mib)) linear $1 $new0"
}
unslice() { dmsetup remove cold && dmsetup remove cnew; }
sample=200

slices "$lw"
# The new disk's writes are held back 50 ms each during the replace, so
# that the writes below land while the copy runs.
dmsetup reload cnew --table "0 $((32 * mib)) delay $lw $new0 0 $lw $new0 50"
dmsetup resume cnew
"$ctl" create --name c "${format[@]}" /dev/mapper/cold > /dev/null
expect_eq "data offset as predicted" "$doff" "$(data_sector /dev/mapper/cold 0)"
# Blocks 0-499 durable before the replace; 50 remapped by its write, 100
# (never written) pending.
blocks write /dev/mapper/c 0 100 one --sync || die "initial writes failed"
blocks write /dev/mapper/c 101 399 one --sync || die "initial writes failed"
expect_eq "block 100" "100 pending" "$(dmsetup message c 0 remap 100)"
expect_eq "remapped" 1 "$(status_field c remapped)"
logwrites_mark lw start
# Writes go on during the whole replace, each marked once acknowledged.
"$ctl" replace c /dev/mapper/cnew > /tmp/replace.out 2>&1 &
rpid=$!
i=0
while kill -0 "$rpid" 2> /dev/null && [ "$i" -lt 200 ]; do
	blocks write /dev/mapper/c $((300 + i)) 1 "w$i" --sync || die "write $i during the replace failed"
	logwrites_mark lw "w$i"
	i=$((i + 1))
done
wait "$rpid" || { cat /tmp/replace.out; die "the replace failed"; }
logwrites_mark lw replaced
writes=$i
[ "$writes" -ge 3 ] || die "only $writes writes made while the replace ran"
expect_eq "data member after the replace" "$(majmin /dev/mapper/cnew)" "$(dmsetup table c | awk '{print $4}')"
"$ctl" stop c > /dev/null
unslice
dmsetup remove lw

marks=$(python3 "$replay_tool" --log "$logdev" --list)
mark() { awk -v m="$1" '$2 == m {print $1}' <<< "$marks"; }
start=$(mark start) fin=$(mark replaced)
acked=()
for ((i = 0; i < writes; i++)); do acked+=("$(mark "w$i")"); done
nullb_create rp 64 4096 > /dev/null
coproc replay { python3 "$replay_tool" --log "$logdev" --replay /dev/rp --serve; }
replay_to() {
	echo "$1" >&"${replay[1]}"
	read -r reply <&"${replay[0]}"
	expect_eq "replayed" "at $1" "$reply"
}
# What assembly and the kernel write while a point is checked is put back,
# so the next points replay onto the disks as the log left them.
md_save() { dd if=/dev/rp of="/tmp/md$2" bs=4096 skip=$(($1 / 8)) count=$((doff / 8)) iflag=direct status=none; }
md_put() { dd if="/tmp/md$2" of=/dev/rp bs=4096 seek=$(($1 / 8)) oflag=direct conv=notrunc status=none; }
side=old checked=0 flips=0
# Blocks 0-499 but the pending one and those written during the replace.
unwritten=$(seq 0 499 | awk -v w="$writes" '$1 != 100 && ($1 < 300 || $1 >= 300 + w) {printf "%d:one ", $1}')
check() {
	local n=$1 items=() i got
	replay_to "$n"
	md_save "$old0" old
	md_save "$new0" new
	slices /dev/rp
	"$ctl" assemble --all > /tmp/assemble.out 2>&1 || { cat /tmp/assemble.out; die "entry $n: no set assembles"; }
	case $(dmsetup table c | awk '{print $4}') in
	"$(majmin /dev/mapper/cold)") got=old ;;
	"$(majmin /dev/mapper/cnew)") got=new ;;
	*) die "entry $n: assembled from neither disk: $(dmsetup table c)" ;;
	esac
	[ "$(dmsetup ls --target remap | wc -l)" -eq 1 ] || die "entry $n: more than one remap device"
	if [ "$got" != "$side" ]; then
		[ "$side" = old ] || die "entry $n: the old disk assembles after the new one did"
		side=new flips=$((flips + 1)) flip=$n
	fi
	for ((i = 0; i < writes; i++)); do
		if [ "${acked[$i]}" -lt "$n" ]; then items+=("$((300 + i)):w$i"); else items+=("$((300 + i)):w$i:one"); fi
	done
	echo "expect /dev/mapper/c $unwritten ${items[*]}" >&"${replay[1]}"
	read -r reply <&"${replay[0]}"
	[ "$reply" = ok ] || die "entry $n ($got disk): $reply"
	if dd if=/dev/mapper/c of=/dev/null bs=4096 skip=100 count=1 iflag=direct status=none 2> /tmp/dd.err; then
		die "entry $n ($got disk): the pending block 100 reads as data"
	fi
	grep -q "Input/output error" /tmp/dd.err || die "entry $n: reading block 100: $(cat /tmp/dd.err)"
	"$ctl" stop c > /dev/null
	unslice
	md_put "$old0" old
	md_put "$new0" new
	checked=$((checked + 1))
}
# Points in the log's own sectors: the old disk's metadata is [1M, 1M +
# doff), the new disk's [25M, 25M + doff); everything else is data.
python3 "$replay_tool" --log "$logdev" --points --sectors > /tmp/points
# Which points: every write of a superblock (flags, generation) of either
# disk; the last 12 other metadata writes (the switch's state and the new
# set's first commits); one in $sample of the others (the new disk's format,
# the copy, the old set's commits). Each check costs seconds under TCG.
awk -v s="$start" -v d="$fin" -v o="$old0" -v n="$new0" -v m="$doff" -v k="$sample" '
	function over(a, b) { return $2 + $3 > a && $2 < b }
	$1 > s && $1 <= d {
		p[++np] = $1
		meta[np] = over(o, o + m) || over(n, n + m)
		sb[np] = over(o, o + 16) || over(n, n + 16)
		oldsb[np] = over(o, o + 16)
		if (meta[np] && !sb[np]) nm++
	}
	END {
		for (i = 1; i <= np; i++) {
			if (sb[i]) { sel[i] = "sb"; nsb++ }
			else if (meta[i] && ++m2 > nm - 12) { sel[i] = "switch"; nsw++ }
			else if (++other % k == 0) sel[i] = meta[i] ? "metadata" : "data"
			# Right before each write of the old superblock: the commit point
			# must be that write, not one before it.
			if (oldsb[i] && i > 1 && !(i - 1 in sel)) sel[i - 1] = "before-sb"
		}
		for (i = 1; i <= np; i++) if (i in sel) print p[i], sel[i]
		printf "%d points: %d superblock, %d switch, 1 in %d of %d others\n", np, nsb, nsw, k, other > "/dev/stderr"
	}' /tmp/points > /tmp/check-points
while read -r n _; do check "$n"; done < /tmp/check-points
[ "$side" = new ] || die "the new disk never assembled before replace returned"
expect_eq "disk changes over the points" 1 "$flips"
# The commit point is the write of the old disk's superblock (REPLACED).
read -r _ sector len <<< "$(awk -v f="$flip" '$1 == f' /tmp/points)"
if [ $((sector + len)) -le "$old0" ] || [ "$sector" -ge $((old0 + 16)) ]; then
	die "the new disk assembles from entry $flip on, a write at sector $sector, not of the old superblock"
fi
# Writes were acknowledged while the copy ran: after the copy's first
# write of the new disk's data area, before the commit point.
first=$(awk -v s="$start" -v a=$((new0 + doff)) '$1 > s && $2 >= a {print $1; exit}' /tmp/points)
during=0
for ((i = 0; i < writes; i++)); do
	[ "${acked[$i]}" -gt "$first" ] && [ "${acked[$i]}" -lt "$flip" ] && during=$((during + 1))
done
[ "$during" -ge 1 ] || die "no write was acknowledged while the copy ran (copy from entry $first, commit at $flip)"
exec {replay[1]}>&-
wait "$replay_PID" || die "the replay process failed"
[ "$(grep -c ' sb$' /tmp/check-points)" -ge 8 ] || die "fewer superblock writes than the replace makes"
[ "$(grep -c ' switch$' /tmp/check-points)" -ge 2 ] || die "no metadata write after the copy's last data write"
echo "replace: one disk, its data and every acknowledged write ($writes made during the replace, $during of them during the copy) at all $checked crash points checked"
