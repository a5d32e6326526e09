#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the test initramfs (busybox). Mounts the host root read-only over
# 9p, lays a tmpfs over it, then either chroots and runs the test (fast
# mode) or switch_roots into systemd, which runs it from a unit (full mode).
# "VMTEST-START", the test's output and "VMTEST-EXIT:<status>" go to ttyS1; the kernel log
# goes to ttyS0. Configuration comes as dmremap.* kernel arguments.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

for arg in $(cat /proc/cmdline); do
	case "$arg" in
	dmremap.*=*) key=${arg%%=*}; key=${key#dmremap.}; eval "DM_$key=\${arg#*=}" ;;
	esac
done

fail() {
	echo "vmtest init: $*" > /dev/ttyS1
	echo "VMTEST-EXIT:125" > /dev/ttyS1
	poweroff -f
}

if [ "$DM_mode" = probe ]; then
	echo VMTEST-PROBE-OK > /dev/ttyS1
	poweroff -f
fi

for m in $(cat /modules.list); do
	insmod "/modules/$m" || fail "insmod $m failed"
done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host ||
	fail "cannot mount the host root over 9p"
if [ -n "$DM_persist" ]; then
	# vmtest.py --persist-root: the root's changes survive a reboot.
	for m in $(cat /modules-persist.list); do
		insmod "/modules/$m" || fail "insmod $m failed"
	done
	tries=0
	until rootdisk=$(findfs LABEL=vmtest-root 2> /dev/null); do
		tries=$((tries + 1))
		[ $tries -lt 100 ] || fail "no disk labelled vmtest-root"
		sleep 0.1
	done
	mount -t ext4 "$rootdisk" /rw || fail "cannot mount $rootdisk"
else
	mount -t tmpfs -o mode=0755,size=60% tmpfs /rw
fi
mkdir -p /rw/upper /rw/work
lower=/host
if [ -n "$DM_destdir" ]; then
	# overlayfs refuses a layer nested inside another: copy the (small)
	# installed tree out of the host root first.
	cp -a "/host$DM_destdir" /rw/dest || fail "cannot copy $DM_destdir"
	# On a merged-/usr host /lib is a symlink; a real /lib in the upper
	# layer (udev rules go to /lib/udev) would hide it, and systemd with it.
	for d in lib lib64 bin sbin; do
		if [ -L "/host/$d" ] && [ -d "/rw/dest/$d" ] && [ ! -L "/rw/dest/$d" ]; then
			mkdir -p "/rw/dest/usr/$d"
			cp -a "/rw/dest/$d/." "/rw/dest/usr/$d/" && rm -rf "/rw/dest/$d" ||
				fail "cannot merge $d of $DM_destdir into usr/$d"
		fi
	done
	lower="/rw/dest:/host"
fi
mount -t overlay -o "lowerdir=$lower,upperdir=/rw/upper,workdir=/rw/work" overlay /newroot ||
	fail "cannot mount the overlay root"

# The installed libbd_remap lives where the host's linker cache has not
# looked (/usr/local/lib/...).
[ -z "$DM_destdir" ] || chroot /newroot /sbin/ldconfig || fail "ldconfig in the guest root failed"

# The guest loads modules from the unpacked kernel, not the host's /lib/modules.
mkdir -p /newroot/lib/modules
if [ -n "$DM_persist" ]; then
	# Writable, as on a real machine: a package's DKMS build installs there.
	mkdir -p /rw/modules-upper /rw/modules-work
	mount -t overlay -o "lowerdir=/host$DM_modroot/lib/modules,upperdir=/rw/modules-upper,workdir=/rw/modules-work" \
		modules /newroot/lib/modules || fail "cannot mount the modules overlay"
else
	mount --bind "/host$DM_modroot/lib/modules" /newroot/lib/modules
fi
# Host state that must not leak into the guest.
if [ -n "$DM_fstab" ]; then
	cp "/host$DM_fstab" /newroot/etc/fstab || fail "cannot copy $DM_fstab"
else
	: > /newroot/etc/fstab
fi
rm -f /newroot/etc/machine-id
: > /newroot/etc/machine-id

if [ "$DM_mode" = full ]; then
	# systemd boots into a target of our own, not the host's
	# multi-user.target: basic.target (udev, journald, the D-Bus socket,
	# timers), the D-Bus daemon and logind as multi-user.target starts
	# them, and the test. Whatever else the host enables there is not
	# started: a PostgreSQL cluster took 35 s of an 80 s boot under TCG and
	# as long to stop at poweroff, and the host's services come and go.
	cat > /newroot/etc/systemd/system/vmtest.target <<EOF
[Unit]
Description=dm-remap VM test
Requires=basic.target
Wants=dbus.service systemd-logind.service vmtest.service
After=basic.target
AllowIsolate=yes
EOF
	ln -sf vmtest.target /newroot/etc/systemd/system/default.target
	unit=/newroot/etc/systemd/system/vmtest.service
	cat > "$unit" <<EOF
[Unit]
Description=dm-remap VM test
After=basic.target dbus.service systemd-logind.service
[Service]
Type=oneshot
StandardInput=null
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS1
ExecStart=/bin/sh -c 'echo VMTEST-START > /dev/ttyS1; $DM_run; echo VMTEST-EXIT:\$? > /dev/ttyS1'
ExecStopPost=/bin/systemctl poweroff --no-block
EOF
	# tmpfiles would empty /tmp at boot, and with it a tree checked out there.
	mkdir -p /newroot/etc/tmpfiles.d
	: > /newroot/etc/tmpfiles.d/tmp.conf
	# Units of the host that make no sense in a throwaway guest: among
	# them the services of basic.target's timers, which could start
	# mid-test, LVM mirror and snapshot monitoring (sysinit.target;
	# 8 s each way under TCG, and no full-mode test has LVM), and mdadm's
	# (cockpit-storaged brings it): mdadm-shutdown runs dracut at every
	# poweroff to build a shutdown initramfs, which TCG cannot finish
	# before systemd's 90 s stop timeout, at full CPU the whole time.
	for u in getty@tty1 serial-getty@ttyS0 serial-getty@ttyS1 systemd-networkd-wait-online \
		networking ssh cron apt-daily apt-daily-upgrade e2scrub_all e2scrub_reap \
		lvm2-monitor man-db dpkg-db-backup fstrim prometheus smartmontools smartd postgresql \
		mdadm-shutdown mdadm-waitidle mdmonitor mdmonitor-oneshot mdcheck_start mdcheck_continue \
		dracut-shutdown; do
		ln -sf /dev/null "/newroot/etc/systemd/system/$u.service"
	done
	umount /proc /sys
	mount --move /dev /newroot/dev
	exec switch_root /newroot /lib/systemd/systemd
fi

mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
# /tmp stays the host's, seen through the overlay: a checkout or build
# tree under /tmp must be reachable. Writes land in the tmpfs upper layer.
mount -t tmpfs tmpfs /newroot/run
echo VMTEST-START > /dev/ttyS1
if [ -n "$DM_interactive" ]; then
	chroot /newroot /bin/sh -c "exec setsid -c $DM_run" < /dev/ttyS1 > /dev/ttyS1 2>&1
else
	chroot /newroot "$DM_run" < /dev/null > /dev/ttyS1 2>&1
fi
rc=$?
echo "VMTEST-EXIT:$rc" > /dev/ttyS1
sync
poweroff -f
