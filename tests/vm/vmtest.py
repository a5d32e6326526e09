#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Run a test script inside a real Debian kernel under QEMU.

  vmtest.py run [--kernel 6.1|6.12] [--mode fast|full] [--bench] [--disk PATH[:SIZE[:write=RATE]]]...
                [--smp N] [--forward HOSTPORT:GUESTPORT]... [--timeout S] [--build DIR]
                [--module KO|--no-module] [--persist-root IMAGE] [--show-output] SCRIPT [ARGS...]
  vmtest.py run [--kernel ...] [--disk ...] --initrd PATH [--append ARGS]
                                            (boot PATH instead; its root reports)
  vmtest.py shell [--kernel ...] [--mode ...] [--disk ...]   (interactive guest shell)
  vmtest.py prepare [--kernel ...]                           (download, unpack, build the module)

The newest kernel of each series that the package index offers is
downloaded with apt, unpacked into a cache outside the tree
($DMREMAP_VM_CACHE, default /var/cache/dm-remap-vm) and booted with a
busybox initramfs that mounts the host root read-only over 9p with a tmpfs
overlay on top. fast mode chroots into it and runs SCRIPT; full mode
switch_roots into systemd as PID 1 and runs SCRIPT from a unit. With
--initrd, the kernel boots that initramfs instead (one that initramfs-tools
or dracut made) with ARGS on its command line; whatever it starts must
write the same marks to the second serial port (VMTEST-START, then
VMTEST-EXIT:<status>).

Exit status: SCRIPT's (77 = skipped: ./scripts/test fails the run unless
tests/skips-allowed names the test), or 1 when the guest kernel logged a
WARNING, BUG, Oops, hung task, refcount or sanitizer report, the guest did
not finish in time, or a host tool or the kernel is missing. On failure the
guest kernel log is printed. The last line on stderr is the verdict:
"vmtest: PASS|SKIP|FAIL: ...".
"""
import argparse
import codecs
import fcntl
import hashlib
import io
import os
import re
import resource
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("DMREMAP_VM_CACHE", "/var/cache/dm-remap-vm"))
SKIP = 77
HOST_TOOLS = ["qemu-system-x86_64", "busybox", "cpio", "modprobe", "depmod", "make", "apt-get", "dpkg-deb"]
BAD_LOG = re.compile(r"WARNING:|BUG:|Oops|INFO: task .* blocked for more than|refcount_t:|UBSAN:|KASAN:"
                     r"|general protection fault|Kernel panic|kernel BUG|list_add corruption|list_del corruption")
EXIT_MARK = re.compile(r"VMTEST-EXIT:(\d+)")
START_MARK = "VMTEST-START\n"
# TCG now and then crashes a guest kernel while it patches its own text
# early in boot; a guest that failed before the test started is booted again.
BOOT_ATTEMPTS = 3


def log(msg):
    print(f"vmtest: {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


class Kernel:
    """One kernel series resolved to the newest ABI the package index has."""

    def __init__(self, series, state=None):
        self.series = series
        self.abi = self._resolve_cached(state) if state else self._resolve()
        self.root = CACHE / self.abi
        self.vmlinuz = self.root / "boot" / f"vmlinuz-{self.abi}"
        self.headers = self.root / "usr/src" / f"linux-headers-{self.abi}"
        self.modules = self.root / "lib/modules" / self.abi

    def _resolve_cached(self, state: Path):
        """_resolve's answer, kept in state (a build's vm directory) for as
        long as apt's package index and configuration are unchanged: the
        apt-cache calls cost 3-6 s a test on a busy machine."""
        key = hashlib.sha256(self.series.encode())
        for top in (Path("/var/lib/apt/lists"), Path("/etc/apt"), Path("/var/cache/apt/pkgcache.bin")):
            for f in sorted([top, *top.rglob("*")] if top.is_dir() else [top]):
                try:
                    st = f.stat()
                except OSError:
                    continue
                key.update(f"{f} {st.st_mtime_ns} {st.st_size}\n".encode())
        cached = state / f"abi-{self.series}"
        try:
            stored_key, abi = cached.read_text().split()
            if stored_key == key.hexdigest():
                return abi
        except (OSError, ValueError):
            pass
        abi = self._resolve()
        tmp = cached.with_suffix(f".{os.getpid()}")
        tmp.write_text(f"{key.hexdigest()} {abi}\n")
        tmp.replace(cached)
        return abi

    def _resolve(self):
        if self.series == "6.1":
            abi = self._depends("linux-image-amd64", r"linux-image-(6\.1\.\d+-\d+-amd64)$")
        elif self.series == "6.12":
            names = sh(["apt-cache", "pkgnames", "linux-image-6.12."]).split()
            found = [m.group(1) for n in names if (m := re.fullmatch(r"linux-image-(6\.12\.\d+\+deb12-amd64)-unsigned", n))]
            abi = max(found, key=lambda a: int(re.match(r"6\.12\.(\d+)", a).group(1))) if found else None
        else:
            raise SystemExit(f"vmtest: unknown kernel series {self.series!r} (6.1 or 6.12)")
        if not abi:
            raise LookupError(f"no {self.series} kernel in the package index (apt-get update?)")
        return abi

    @staticmethod
    def _depends(pkg, pattern):
        for line in sh(["apt-cache", "depends", pkg]).splitlines():
            m = re.match(r"\s*\|?Depends:\s*(\S+)", line)
            if m and (mm := re.match(pattern, m.group(1))):
                return mm.group(1)
        return None

    def packages(self):
        pkgs = [f"linux-image-{self.abi}-unsigned", f"linux-headers-{self.abi}"]
        for line in sh(["apt-cache", "depends", f"linux-headers-{self.abi}"]).splitlines():
            m = re.match(r"\s*\|?Depends:\s*(linux-(?:headers|kbuild)-\S+)", line)
            if m and not m.group(1).startswith("linux-headers-" + self.abi):
                pkgs.append(m.group(1))
        return pkgs

    def prepare(self):
        """Download and unpack once; the cache survives between runs."""
        CACHE.mkdir(parents=True, exist_ok=True)
        with open(CACHE / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (self.root / ".ready").exists():
                return
            log(f"fetching kernel {self.abi}")
            debs = CACHE / "deb"
            debs.mkdir(exist_ok=True)
            pkgs = self.packages()
            subprocess.run(["apt-get", "download", "-q", *pkgs], cwd=debs, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            tmp = Path(tempfile.mkdtemp(dir=CACHE))
            for deb in debs.glob("*.deb"):
                if any(deb.name.startswith(p + "_") for p in pkgs):
                    sh(["dpkg-deb", "-x", str(deb), str(tmp)])
            # The headers package points at /usr/src by absolute path; this
            # copy lives in the cache, so point it at itself. Installing the
            # headers package instead would drag a kernel into the host's /boot.
            mk = tmp / "usr/src" / f"linux-headers-{self.abi}" / "Makefile"
            mk.write_text(mk.read_text().replace("include /usr/src/", f"include {self.root}/usr/src/"))
            sh(["depmod", "-b", str(tmp), self.abi])
            shutil.rmtree(self.root, ignore_errors=True)
            tmp.rename(self.root)
            (self.root / ".ready").touch()

    def boot_image(self):
        """The kernel as QEMU is to boot it: the ELF inside vmlinuz, which
        QEMU starts at its PVH entry (CONFIG_PVH), so that no guest spends
        its first seconds unpacking the kernel under TCG (6.1's is xz).
        Made once, beside vmlinuz; vmlinuz itself if that fails."""
        elf = self.root / "boot" / f"vmlinux-{self.abi}"
        if elf.exists():
            return elf
        data = self.vmlinuz.read_bytes()
        # bzImage's setup header: the compressed payload's offset (from the
        # protected-mode code, after the setup sectors) and length; the
        # build appends the uncompressed size to it.
        setup_sects = data[0x1f1] or 4
        offset, length = struct.unpack_from("<II", data, 0x248)
        start = (setup_sects + 1) * 512 + offset
        payload = data[start:start + length - 4]
        for magic, cmd in ((b"\xfd7zXZ\x00", ["xz", "-dc"]), (b"\x28\xb5\x2f\xfd", ["zstd", "-dcq"]),
                           (b"\x1f\x8b", ["gzip", "-dc"])):
            if payload.startswith(magic):
                r = subprocess.run(cmd, input=payload, capture_output=True)
                if r.returncode == 0 and r.stdout[:4] == b"\x7fELF":
                    tmp = elf.with_suffix(f".{os.getpid()}")
                    tmp.write_bytes(r.stdout)
                    tmp.replace(elf)
                    return elf
        log(f"cannot unpack {self.vmlinuz}: booting it compressed")
        return self.vmlinuz

    def module_chain(self, names):
        """insmod order for modules and their dependencies, from modprobe itself."""
        paths = []
        for n in names:
            out = sh(["modprobe", "-d", str(self.root), "-S", self.abi, "--show-depends", n])
            for line in out.splitlines():
                if line.startswith("insmod "):
                    p = line.split()[1]
                    if p not in paths:
                        paths.append(p)
        return paths

    def build_kbuild(self, src, out):
        """Builds an out-of-tree Kbuild directory against this kernel into out.

        A make with nothing to do still costs 5-12 s (modpost, BTF) and runs
        under the lock every guest takes: three of them a test, one test
        after the other, were a third of the CI run's VM time. A stamp
        records what was built (every source's content, the headers), so a
        run with the same inputs makes nothing; any change makes again."""
        out.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(f"{self.abi} {(self.headers / 'Makefile').stat().st_mtime_ns}\n".encode())
        for f in sorted(src.iterdir()):
            if f.is_file() and f.suffix in (".c", ".h") or f.name in ("Kbuild", "Makefile"):
                data = f.read_bytes()
                digest.update(f"{f.name} {len(data)}\n".encode() + data)
                dst = out / f.name
                if not dst.exists() or dst.read_bytes() != data:
                    shutil.copy2(f, dst)
        stamp = out / ".vmtest-built"
        if stamp.exists() and stamp.read_text() == digest.hexdigest() and any(out.glob("*.ko")):
            return
        stamp.unlink(missing_ok=True)
        r = subprocess.run(["make", "-C", str(self.headers), f"M={out}", "modules"], text=True,
                           capture_output=True)
        if r.returncode:
            sys.stderr.write(r.stdout + r.stderr)
            raise SystemExit(f"vmtest: building {src} against {self.abi} failed")
        stamp.write_text(digest.hexdigest())


def dkms_tree(k: Kernel, ko: Path, out: Path) -> Path:
    """The kernel's modules (symlinks) with dm-remap.ko in updates/, indexed
    by the host's depmod: seconds here, minutes in a TCG guest."""
    ready = out / ".ready"
    if ready.exists() and ready.stat().st_mtime > ko.stat().st_mtime:
        return out
    shutil.rmtree(out, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent))
    (tmp / "lib/modules").mkdir(parents=True)
    sh(["cp", "-as", str(k.root / "lib/modules" / k.abi), str(tmp / "lib/modules" / k.abi)])
    updates = tmp / "lib/modules" / k.abi / "updates"
    updates.mkdir(exist_ok=True)
    shutil.copy(ko, updates / "dm-remap.ko")
    sh(["depmod", "-b", str(tmp), k.abi])
    tmp.rename(out)
    ready.touch()
    return out


def initramfs(k: Kernel, out: Path):
    """busybox + the 9p/overlay modules + init.sh, as a newc cpio."""
    inputs = [SRC / "tests/vm/init.sh", Path(__file__)]
    if out.exists() and all(out.stat().st_mtime > p.stat().st_mtime for p in inputs):
        return out
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for sub in ("bin", "dev", "proc", "sys", "modules", "host", "rw", "newroot"):
            (d / sub).mkdir()
        shutil.copy(shutil.which("busybox"), d / "bin/busybox")
        os.symlink("busybox", d / "bin/sh")
        shutil.copy(SRC / "tests/vm/init.sh", d / "init")
        os.chmod(d / "init", 0o755)
        # modules-persist.list: loaded only for --persist-root, whose disk
        # holds an ext4 (most guests never touch a disk in the initramfs).
        chain = k.module_chain(["virtio_pci", "9pnet_virtio", "9p", "overlay"])
        extra = [p for p in k.module_chain(["virtio_blk", "ext4"]) if p not in chain]
        for listing, paths in (("modules.list", chain), ("modules-persist.list", extra)):
            order = []
            for p in paths:
                name = f"{len(list((d / 'modules').iterdir())):02d}-{Path(p).name.removesuffix('.xz')}"
                if p.endswith(".xz"):
                    with open(d / "modules" / name, "wb") as f:
                        subprocess.run(["xz", "-dc", p], stdout=f, check=True)
                else:
                    shutil.copy(p, d / "modules" / name)
                order.append(name)
            (d / listing).write_text("\n".join(order) + "\n")
        files = sh(["find", ".", "-print0"], cwd=d)
        with open(out, "wb") as f:
            subprocess.run(["cpio", "-o", "-H", "newc", "-0", "--quiet"], input=files.encode(), cwd=d,
                           stdout=f, check=True)
    return out


def accel(k: Kernel, build: Path, initrd: Path):
    """KVM if a short bounded boot works (it hangs on some hosts), else TCG."""
    forced = os.environ.get("DMREMAP_VM_ACCEL")
    if forced:
        return forced
    cached = build / f"accel-{k.abi}"
    if cached.exists():
        return cached.read_text().strip()
    result = "tcg"
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "out"
            cmd = qemu_cmd(k, initrd, "kvm", "dmremap.mode=probe", Path(d) / "kern", out, [], mem=256)
            try:
                subprocess.run(cmd, timeout=20, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
                if "VMTEST-PROBE-OK" in out.read_text(errors="replace"):
                    result = "kvm"
            except (subprocess.TimeoutExpired, FileNotFoundError):
                pass
    log(f"accelerator for {k.abi}: {result}")
    cached.write_text(result)
    return result


def qemu_cmd(k, initrd, acc, cmdline, kern_log, out_log, disks, mem=1024, bench=False, interactive=False, smp=None,
             forward=()):
    cmd = ["qemu-system-x86_64", "-nodefaults", "-no-reboot", "-display", "none", "-m", str(mem),
           "-kernel", str(k.boot_image()), "-initrd", str(initrd),
           "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
           "-device", "virtio-rng-pci"]
    if bench:
        # Guest time counts instructions: costs compare within 0.25% run to run.
        cmd += ["-accel", "tcg,thread=single", "-smp", "1", "-icount", "shift=2,sleep=off", "-cpu", "max"]
    elif acc == "kvm":
        cmd += ["-accel", "kvm", "-cpu", "host", "-smp", str(smp or 2)]
    else:
        # One CPU unless asked: with more guest CPUs than host cores free,
        # TCG deschedules a vCPU holding a guest spinlock while the other
        # spins on it (no pause-loop exits under TCG). Three guests of two
        # CPUs each on two cores spent twice the CPU time of one-CPU guests
        # on the same tests (docs/TESTING.md).
        cmd += ["-accel", "tcg", "-cpu", "max", "-smp", str(smp or 1)]
    # ttyS0: the kernel console; ttyS1: the test's own output and exit mark.
    if interactive:
        cmd += ["-serial", f"file:{kern_log}", "-serial", "mon:stdio"]
    else:
        cmd += ["-serial", f"file:{kern_log}", "-serial", f"file:{out_log}"]
    for i, (path, fmt, drive) in enumerate(disks):
        cmd += ["-drive", f"file={path},if=none,id=d{i},format={fmt},cache=none,aio=threads{drive}",
                "-device", f"virtio-blk-pci,drive=d{i},serial=dmr{i}"]
    if forward:
        # User-mode networking, reachable from the host's loopback only:
        # the guest takes 10.0.2.15 (tests/vm/full/lib-guest.sh guest_net).
        fwd = ",".join(f"hostfwd=tcp:127.0.0.1:{h}-:{g}" for h, g in forward)
        cmd += ["-netdev", f"user,id=n0,restrict=on,{fwd}", "-device", "virtio-net-pci,netdev=n0"]
    cmd += ["-append", f"console=ttyS0 loglevel=7 panic=-1 oops=panic softlockup_panic=1 "
                       f"sysctl.kernel.hung_task_timeout_secs=60 rdinit=/init {cmdline}"]
    return cmd


class OutputTail:
    """Prints the test's output while the guest writes it (--show-output)."""

    def __init__(self, path):
        self.path, self.pos, self.text, self.started = path, 0, "", False
        # Newlines translated as read_text() does: the serial port sends \r\n.
        self.decoder = io.IncrementalNewlineDecoder(codecs.getincrementaldecoder("utf-8")(errors="replace"), True)

    def poll(self, final=False):
        if self.path.exists():
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
            self.pos += len(data)
            self.text += self.decoder.decode(data, final)
        if not self.started:
            if START_MARK not in self.text:
                return
            self.started = True
            self.text = self.text.split(START_MARK, 1)[1]
        # Whole lines only, so that an exit mark is never printed in part.
        cut = len(self.text) if final else self.text.rfind("\n") + 1
        done, self.text = self.text[:cut], self.text[cut:]
        if done:
            sys.stdout.write(EXIT_MARK.sub("", done))
            sys.stdout.flush()


def boot_showing_output(cmd, timeout, tail):
    """subprocess.run(cmd, timeout=timeout), printing the output as it comes."""
    deadline = time.monotonic() + timeout
    with subprocess.Popen(cmd, stdin=subprocess.DEVNULL) as proc:
        try:
            while True:
                try:
                    proc.wait(timeout=0.2)
                    return
                except subprocess.TimeoutExpired:
                    tail.poll()
                    if time.monotonic() > deadline:
                        proc.kill()
                        raise
        finally:
            tail.poll(final=True)


UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_disks(specs, rundir):
    """PATH[:SIZE[:write=RATE]] each: (path, format, QEMU -drive options).
    write=RATE caps the disk's writes at RATE bytes a second (K, M, G):
    a slow new disk keeps a replace's copy going long enough to catch it."""
    disks = []
    for spec in specs:
        path, _, rest = spec.partition(":")
        size, _, opts = rest.partition(":")
        drive = ""
        for opt in filter(None, opts.split(":")):
            m = re.fullmatch(r"write=([0-9]+)([KMG]?)", opt)
            if not m:
                raise SystemExit(f"vmtest: disk {path}: unknown option {opt!r} (write=RATE, as write=4M)")
            drive += f",throttling.bps-write={int(m[1]) * UNITS[m[2]]}"
        p = Path(path)
        if not p.is_absolute():
            p = rundir / p
        if not p.exists():
            if not size:
                raise SystemExit(f"vmtest: disk {p} does not exist and no size was given (PATH:SIZE)")
            subprocess.run(["truncate", "-s", size, str(p)], check=True)
        fmt = "qcow2" if p.suffix == ".qcow2" else "raw"
        disks.append((p, fmt, drive))
    return disks


def run(args):
    # Every machine that runs the suite must have these (scripts/install-deps):
    # a missing one fails the test, it does not skip it.
    missing = [tool for tool in HOST_TOOLS if not shutil.which(tool)]
    if missing:
        log(f"FAIL: not installed: {' '.join(missing)} (scripts/install-deps installs them)")
        return 1
    build = Path(args.build).resolve()
    vmdir = build / "vm"
    vmdir.mkdir(parents=True, exist_ok=True)
    try:
        k = Kernel(args.kernel, state=vmdir)
    except LookupError as e:
        log(f"FAIL: {e}")
        return 1
    k.prepare()
    # DMREMAP_KMOD_SRC: a changed copy of kernel/ (a mutation check) builds
    # into a module directory of its own, so runs beside it keep the real one.
    kmod_src = Path(os.environ.get("DMREMAP_KMOD_SRC") or SRC / "kernel").resolve()
    kmod_dir = vmdir / k.abi / ("kmod" if kmod_src == SRC / "kernel" else
                                "kmod-mut-" + hashlib.sha1(str(kmod_src).encode()).hexdigest()[:12])
    if args.module:
        # A module built elsewhere (a package's DKMS build): used as it is.
        kmod_dir = Path(args.module).resolve().parent
    # Guests run in parallel: one of them builds what they share, the others wait.
    with open(vmdir / f"prepare-{k.abi}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (kmod_src / "Kbuild").exists() and not args.module and not args.no_module:
            k.build_kbuild(kmod_src, kmod_dir)
        # Test-only modules: the harness's self-test, allocation failures.
        for d in ("selftest", "inject"):
            if (SRC / "tests/vm" / d / "Kbuild").exists():
                k.build_kbuild(SRC / "tests/vm" / d, vmdir / k.abi / d)
        initrd = initramfs(k, vmdir / f"initramfs-{k.abi}.cpio")
        acc = accel(k, vmdir, initrd)
        # Full mode: dm-remap.ko installed as DKMS would, so that units
        # loading a set at boot find the target type before any test runs.
        modroot = dkms_tree(k, kmod_dir / "dm-remap.ko", vmdir / k.abi / f"dkms-{kmod_dir.name}") \
            if args.mode == "full" and not args.no_module and (kmod_dir / "dm-remap.ko").exists() else k.root

    rundir = Path(tempfile.mkdtemp(prefix="run-", dir=vmdir))
    if args.install:
        # The project as a package would lay it out, over the host root; one
        # tree per run, as runs beside it install theirs.
        args.destdir = str(rundir / "destdir")
        subprocess.run(["meson", "install", "-C", str(build), "--destdir", args.destdir, "--no-rebuild", "--quiet"],
                       check=True, stdout=subprocess.DEVNULL)
    disks = parse_disks(args.disk, Path.cwd())
    if args.initrd:
        return boot(args, k, acc, rundir, disks)
    runner = rundir / "run.sh"
    script = [str(Path(args.script).resolve())] + args.args if args.script else ["/bin/sh", "-i"]
    env = {"DMREMAP_SRC": SRC, "DMREMAP_BUILD": build, "DMREMAP_KMOD_DIR": kmod_dir,
           "DMREMAP_SELFTEST_DIR": vmdir / k.abi / "selftest",
           "DMREMAP_INJECT_DIR": vmdir / k.abi / "inject", "DMREMAP_ABI": k.abi,
           "DMREMAP_KERNEL_SERIES": k.series, "DMREMAP_KERNEL_ROOT": k.root, "DMREMAP_VM_MODE": args.mode,
           "VMTEST_LIB": SRC / "tests/vm/lib.sh",
           "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
           "TERM": "vt100" if args.shell else "dumb"}
    if args.mode == "fast":
        # No udev in fast mode: libdevmapper must make /dev/mapper nodes itself.
        env["DM_DISABLE_UDEV"] = 1
    runner.write_text("#!/bin/sh\n" + "".join(f"export {n}={shlex.quote(str(v))}\n" for n, v in env.items()) +
                      f"cd {shlex.quote(str(Path.cwd()))}\n" + shlex.join(script) + "\n")
    runner.chmod(0o755)
    cmdline = f"dmremap.mode={args.mode} dmremap.run={runner} dmremap.modroot={modroot}"
    if args.shell:
        cmdline += " dmremap.interactive=1"
    if args.destdir:
        cmdline += f" dmremap.destdir={Path(args.destdir).resolve()}"
    if args.fstab:
        cmdline += f" dmremap.fstab={Path(args.fstab).resolve()}"
    if args.persist_root:
        # The root's changes (packages installed, modules built) live on
        # this disk, after the test's own, so they survive a reboot.
        root_img = Path(args.persist_root).resolve()
        if not root_img.exists():
            subprocess.run(["truncate", "-s", "4G", str(root_img)], check=True)
            subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "vmtest-root", str(root_img)], check=True)
        disks.append((root_img, "raw", ""))
        cmdline += " dmremap.persist=1"
    kern_log, out_log = rundir / "kernel.log", rundir / "output.log"
    cmd = qemu_cmd(k, initrd, acc, cmdline, kern_log, out_log, disks,
                   mem=2048 if args.mode == "full" else 1024, bench=args.bench, interactive=args.shell,
                   smp=args.smp, forward=args.forward)
    name = f"{Path(args.script).name if args.script else 'shell'} on {k.abi} ({args.mode}, {acc}{', bench' if args.bench else ''}{f', {args.smp} CPUs' if args.smp else ''})"
    if args.shell:
        subprocess.run(cmd)
        return 0
    return watch(args, cmd, name, rundir, kern_log, out_log)


def boot(args, k, acc, rundir, disks):
    """--initrd: the kernel with an initramfs made by the system's tools, and
    only the caller's command line; what it boots into reports the result."""
    kern_log, out_log = rundir / "kernel.log", rundir / "output.log"
    cmd = qemu_cmd(k, Path(args.initrd).resolve(), acc, args.append, kern_log, out_log, disks,
                   mem=1024, bench=args.bench, smp=args.smp)
    return watch(args, cmd, f"{Path(args.initrd).name} on {k.abi} ({acc})", rundir, kern_log, out_log)


def cpu_children():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def watch(args, cmd, name, rundir, kern_log, out_log):
    """Boots cmd (again if it died before the test started) and gives the verdict."""
    start = time.monotonic()
    # QEMU's CPU time: under TCG the guest's work, which is what the
    # guests beside it compete for (the wall time also counts waiting).
    cpu_start = cpu_children()
    tail = None
    for attempt in range(1, BOOT_ATTEMPTS + 1):
        try:
            if args.show_output:
                tail = OutputTail(out_log)
                boot_showing_output(cmd, args.timeout, tail)
            else:
                subprocess.run(cmd, timeout=args.timeout, stdin=subprocess.DEVNULL, check=False)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        out = out_log.read_text(errors="replace") if out_log.exists() else ""
        kern = kern_log.read_text(errors="replace") if kern_log.exists() else ""
        bad = [line for line in kern.splitlines() if BAD_LOG.search(line)]
        if timed_out or START_MARK in out or attempt == BOOT_ATTEMPTS:
            break
        # Nothing of the test ran, so nothing it checks can have happened yet.
        why = bad[0].strip() if bad else "no kernel error logged"
        log(f"the guest failed before the test started ({why}); booting again")
        kern_log.rename(kern_log.with_suffix(f".boot{attempt}"))
    took = time.monotonic() - start
    marks = EXIT_MARK.findall(out)
    rc = int(marks[-1]) if marks else None
    if not (tail and tail.started):
        sys.stdout.write(EXIT_MARK.sub("", out.replace(START_MARK, "")))
    if timed_out:
        verdict, status = f"FAIL: no result within {args.timeout} s", 1
    elif rc is None:
        verdict, status = "FAIL: the guest stopped without reporting an exit status", 1
    elif bad:
        verdict, status = "FAIL: the guest kernel reported: " + bad[0].strip(), 1
    elif rc == SKIP:
        verdict, status = "SKIP", SKIP
    elif rc:
        verdict, status = f"FAIL: exit status {rc}", 1
    else:
        verdict, status = "PASS", 0
    if status not in (0, SKIP):
        print(f"----- guest kernel log ({kern_log}) -----\n{kern}\n----- end of guest kernel log -----")
    log(f"{verdict}: {name} in {took:.1f} s, {cpu_children() - cpu_start:.1f} s of CPU")
    if status in (0, SKIP) and not os.environ.get("DMREMAP_VM_KEEP"):
        shutil.rmtree(rundir, ignore_errors=True)
    return status


def port_pair(text):
    try:
        h, g = (int(p) for p in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected HOSTPORT:GUESTPORT") from None
    if not (0 < h < 65536 and 0 < g < 65536):
        raise argparse.ArgumentTypeError(f"{text!r}: ports are 1 to 65535")
    return h, g


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("run", "shell", "prepare"):
        s = sub.add_parser(name)
        s.add_argument("--kernel", default=os.environ.get("DMREMAP_VM_KERNEL", "6.1"), choices=["6.1", "6.12"])
        s.add_argument("--build", default=os.environ.get("DMREMAP_BUILD", str(SRC / "build")))
        if name == "prepare":
            continue
        s.add_argument("--mode", default="fast", choices=["fast", "full"])
        s.add_argument("--bench", action="store_true", help="instruction-counting TCG for cost comparisons")
        s.add_argument("--disk", action="append", default=[], help="PATH[:SIZE[:write=RATE]]; .qcow2 or raw, persists")
        s.add_argument("--destdir", help="meson install --destdir tree to lay over the host root (full mode)")
        s.add_argument("--install", action="store_true", help="meson install the build into the run directory and use it")
        s.add_argument("--fstab", help="the guest's /etc/fstab (full mode; default: empty)")
        mod = s.add_mutually_exclusive_group()
        mod.add_argument("--module", help="this dm-remap.ko instead of one built from kernel/")
        mod.add_argument("--no-module", action="store_true",
                         help="no dm-remap.ko at all (full mode: the guest installs one itself)")
        s.add_argument("--persist-root", metavar="IMAGE",
                       help="keep the root's changes on this ext4 image (made if missing) across boots (full mode)")
        s.add_argument("--timeout", type=int, default=300)
        s.add_argument("--forward", action="append", default=[], type=port_pair, metavar="HOSTPORT:GUESTPORT",
                       help="forward 127.0.0.1:HOSTPORT on the host to the guest's GUESTPORT (TCP)")
        s.add_argument("--smp", type=int, choices=range(1, 9), metavar="N",
                       help="guest CPUs (default: 1 under TCG, 2 under KVM); tests of concurrency ask for 2")
        if name == "run":
            s.add_argument("--show-output", action="store_true",
                           help="print the script's output while it runs, not when it has ended")
            s.add_argument("--initrd", help="boot this initramfs instead of running SCRIPT")
            s.add_argument("--append", default="", help="the kernel command line's end, with --initrd")
            s.add_argument("script", nargs="?")
            s.add_argument("args", nargs=argparse.REMAINDER)
    a = p.parse_args()
    if a.cmd == "prepare":
        k = Kernel(a.kernel)
        k.prepare()
        # Unpacked here, in scripts/test's prefetch, not by the first
        # guests all at once.
        k.boot_image()
        print(k.abi)
        return 0
    a.shell = a.cmd == "shell"
    if a.shell:
        a.script, a.args, a.initrd = None, [], None
    elif not a.initrd and not a.script:
        p.error("run needs a SCRIPT, or --initrd")
    elif a.initrd and a.script:
        p.error("run takes a SCRIPT or --initrd, not both")
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
