#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""What the D-Bus tests share: a private system bus (deny-by-default policy
plus the real dbus/org.dmremap1.conf), polkitd mocked by dbusmock's polkitd
template, the built dm-remapd unmodified, and helpers. Imported by
test_dbus.py, test_devices.py and test_jobs.py; run as a script only as
the burst client (see Burst).
"""
import json
import os
import pwd
import select
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

import dbus

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("DBUS_SRC", os.path.join(HERE, "..", "..", "dbus"))
DMREMAPD = os.environ.get("DMREMAPD", os.path.join(HERE, "..", "..", "build", "dbus", "dm-remapd"))
DMREMAPCTL = os.environ.get("DMREMAPCTL", os.path.join(HERE, "..", "..", "build", "tools", "dmremapctl"))
DBUS_CALL = os.environ.get("DBUS_CALL", os.path.join(HERE, "dbus_call.py"))
PYTHON = "/usr/bin/python3"

NAME = "org.dmremap1"
MANAGER = "/org/dmremap1/Manager"
ROOT = "/org/dmremap1"
MGR_IF = "org.dmremap1.Manager"
DEV_IF = "org.dmremap1.Device"
JOB_IF = "org.dmremap1.Job"
OM_IF = "org.freedesktop.DBus.ObjectManager"
PROPS_IF = "org.freedesktop.DBus.Properties"
POLKIT = "org.freedesktop.PolicyKit1"
POLKIT_PATH = "/org/freedesktop/PolicyKit1/Authority"
MOCK_IF = "org.freedesktop.DBus.Mock"
ERR = "org.dmremap1.Error."
NOBODY = 65534

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <!-- As Debian's system.conf: nothing owned, no method calls, unless a
       service's own policy allows them. -->
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>{service_conf}</include>
  <!-- The polkit mock, run by the test's user. -->
  <policy context="default">
    <allow own="{polkit}"/>
    <allow send_destination="{polkit}"/>
  </policy>
  {own_policy}
</busconfig>
"""


# Generous: the same waits run in TCG guests on a loaded 2-core machine,
# and they only last that long when something is wrong.
# The pause doubles to 0.4 s: cond() may start programs, and under TCG a
# flat-out poll took the CPU from what it waited for.
def wait_for(cond, timeout=60.0, what="condition"):
    end = time.monotonic() + timeout
    pause = 0.05
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(pause)
        pause = min(pause * 2, 0.4)
    raise AssertionError("timed out waiting for " + what)


def dm_problem():
    """None when device-mapper is usable here (then Device objects can
    exist), else why not, as `dmremapctl list` says."""
    r = subprocess.run([DMREMAPCTL, "list"], capture_output=True, text=True)
    if r.returncode == 0:
        return None
    return "'dmremapctl list' failed (exit %d): %s" % (r.returncode, r.stderr.strip())


def dm_available():
    return dm_problem() is None


# In the VM (tests/vm/vmtest.py sets DMREMAP_VM_MODE; the guest scripts
# export the disks as DMREMAP_TEST_* and DMREMAP_JOBS_*) device-mapper,
# the target, the disks and root are provided: a missing one is a broken
# guest or a regression (in `dmremapctl list` say), never a reason to skip.
IN_VM = bool(os.environ.get("DMREMAP_VM_MODE")) or any(
    k.startswith(("DMREMAP_TEST_", "DMREMAP_JOBS_")) for k in os.environ)


def precondition_problem(env_names):
    """None when the environment variables `env_names` are set and
    device-mapper works, else what is missing."""
    missing = [n for n in env_names if not os.environ.get(n)]
    if missing:
        return "not set: " + " ".join(missing)
    return dm_problem()


def require(problem, where):
    """In the VM a precondition that does not hold is a failure; elsewhere
    the caller skips (`where` says which test runs it for real)."""
    if problem and IN_VM:
        raise AssertionError("in the VM, which must provide it: %s" % problem)
    return problem and "%s (%s)" % (problem, where)


def require_root():
    """The authorization tests run clients as uid 65534 through setpriv."""
    if os.geteuid() != 0:
        raise AssertionError("not root (euid %d): the test runs clients as uid %d with setpriv; run it as root"
                             % (os.geteuid(), NOBODY))


# dm-remapd's polkit actions (dbus/org.dmremap1.policy).
CREATE, ASSEMBLE, SPARE, REMAP, CANCEL, SCAN, REPLACE = (
    "org.dmremap1." + a for a in ("create", "assemble", "spare", "remap", "cancel-job", "scan", "replace"))
ACTIONS = [CREATE, ASSEMBLE, SPARE, REMAP, CANCEL, SCAN, REPLACE]

class Env:
    """The private bus, the polkit mock and the daemon."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="dmremap-dbus-")
        # An unprivileged client must reach the socket.
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "system_bus_socket")
        # Scan checkpoints and health history of this run only; dmremapctl
        # run by the tests (directly, as root) must see the same.
        self.state_dir = os.path.join(self.dir, "state")
        self.metrics_dir = os.path.join(self.dir, "metrics")
        os.mkdir(self.metrics_dir)
        os.environ["DM_REMAP_STATE_DIR"] = self.state_dir
        # The per-set assembly locks, likewise.
        os.environ["DM_REMAP_RUN_DIR"] = os.path.join(self.dir, "run")
        self.address = "unix:path=" + self.socket
        own = ""
        if os.geteuid() != 0:
            # The real policy lets only root own the name.
            user = pwd.getpwuid(os.geteuid()).pw_name
            own = '<policy user="%s"><allow own="%s"/></policy>' % (user, NAME)
        conf = os.path.join(self.dir, "bus.conf")
        with open(conf, "w") as f:
            f.write(BUS_CONF.format(socket=self.socket, service_conf=os.path.join(SRC, "org.dmremap1.conf"),
                                    polkit=POLKIT, own_policy=own))
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        self.bus_proc = subprocess.Popen(["dbus-daemon", "--nofork", "--nopidfile", "--config-file=" + conf],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # The socket file exists from bind(), before listen(): until then
        # a connection is refused.
        self.bus = None

        def connected():
            try:
                self.bus = dbus.bus.BusConnection(self.address)
            except dbus.DBusException:
                if self.bus_proc.poll() is not None:
                    raise AssertionError("dbus-daemon exited: " + self.bus_proc.stderr.read().decode())
            return self.bus is not None
        wait_for(connected, what="the bus socket to accept connections")
        self.polkit_proc = None
        self.daemon = None
        self.daemon_log = os.path.join(self.dir, "dm-remapd.log")
        self.start_polkit()
        self.start_daemon()

    def has_owner(self, name):
        return bool(self.bus.name_has_owner(name))

    def start_polkit(self):
        self.polkit_proc = subprocess.Popen([PYTHON, "-m", "dbusmock", "--system", "--template", "polkitd"],
                                            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.has_owner(POLKIT), what="the polkit mock")

    def stop_polkit(self):
        self.polkit_proc.terminate()
        self.polkit_proc.wait(10)
        wait_for(lambda: not self.has_owner(POLKIT), what="the polkit mock to go")

    def polkit(self):
        return self.bus.get_object(POLKIT, POLKIT_PATH, introspect=False)

    def start_daemon(self):
        log = open(self.daemon_log, "a")
        # Short enough that the hung-device test waits little, long enough
        # for any honest call in a loaded TCG guest.
        self.daemon = subprocess.Popen([DMREMAPD, "--io-timeout=%d" % IO_TIMEOUT,
                                        "--metrics-dir=" + self.metrics_dir], env=self.env, stdout=log, stderr=log)
        log.close()
        wait_for(lambda: self.has_owner(NAME) or self.daemon.poll() is not None, what="dm-remapd on the bus")
        if self.daemon.poll() is not None:
            raise AssertionError("dm-remapd exited: " + self.log())

    def stop_daemon(self):
        self.daemon.send_signal(signal.SIGTERM)
        rc = self.daemon.wait(10)
        return rc

    def log(self):
        with open(self.daemon_log) as f:
            return f.read()

    def close(self):
        for p in (self.daemon, self.polkit_proc):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        self.bus.close()
        self.bus_proc.terminate()
        self.bus_proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


ENV = None


def start():
    global ENV
    ENV = Env()


def stop():
    if ENV:
        ENV.close()


def context_switches(pid):
    """Every thread's voluntary and involuntary context switches: a thread
    that wakes up (a timer, a poll with a timeout) adds to them."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
    return total


def xml_interfaces(name):
    """{interface: {"methods": {name: (in, out)}, "properties": {...}, "signals": {...}}} from the XML."""
    root = ET.parse(os.path.join(SRC, name + ".xml")).getroot()
    return parse_node(root)


def parse_node(root):
    out = {}
    for iface in root.findall("interface"):
        d = {"methods": {}, "properties": {}, "signals": {}}
        for m in iface.findall("method"):
            ins = "".join(a.get("type") for a in m.findall("arg") if a.get("direction", "in") == "in")
            outs = "".join(a.get("type") for a in m.findall("arg") if a.get("direction") == "out")
            d["methods"][m.get("name")] = (ins, outs)
        for p in iface.findall("property"):
            d["properties"][p.get("name")] = (p.get("type"), p.get("access"))
        for s in iface.findall("signal"):
            d["signals"][s.get("name")] = "".join(a.get("type") for a in s.findall("arg"))
        out[iface.get("name")] = d
    return out


class DBusTest(unittest.TestCase):
    def obj(self, path, introspect=True):
        # Introspection gives dbus-python the signatures ({} and [] alone
        # do not say which types they hold).
        return ENV.bus.get_object(NAME, path, introspect=introspect)

    def manager(self):
        return dbus.Interface(self.obj(MANAGER), MGR_IF)

    def call_error(self, fn, *args, **kw):
        """The D-Bus error name and message fn raises; fails when it succeeds."""
        with self.assertRaises(dbus.DBusException) as cm:
            fn(*args, **kw)
        return cm.exception.get_dbus_name(), cm.exception.get_dbus_message()

    def assertAlive(self):
        """The daemon is running and answers a call that goes through the worker."""
        self.assertIsNone(ENV.daemon.poll(), "dm-remapd died: " + ENV.log())
        self.assertEqual(dict(self.manager().Probe(empty_file(), {})), {})

    def device_paths(self):
        om = dbus.Interface(self.obj(ROOT), OM_IF)
        return [str(p) for p, ifs in om.GetManagedObjects().items() if DEV_IF in ifs]

    def set_polkit(self, actions):
        """Allows exactly `actions` (ACTIONS: every one) and clears the log of checks."""
        p = ENV.polkit()
        p.SetAllowed(dbus.Array(actions, signature="s"), dbus_interface=MOCK_IF)
        p.ClearCalls(dbus_interface=MOCK_IF)

    def polkit_calls(self):
        return [c for c in ENV.polkit().GetCalls(dbus_interface=MOCK_IF) if c[1] == "CheckAuthorization"]


_EMPTY = []


def empty_file():
    """A 1 MiB file of zeros: never a member."""
    if not _EMPTY:
        path = os.path.join(ENV.dir, "empty.img")
        with open(path, "wb") as f:
            f.truncate(1 << 20)
        os.chmod(path, 0o644)
        _EMPTY.append(path)
    return _EMPTY[0]

IO_TIMEOUT = 10  # dm-remapd --io-timeout in these tests

NOBODY_PREFIX = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]


def as_nobody(path, iface, method, sig, args):
    r = subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                        PYTHON, DBUS_CALL, ENV.address, path, iface, method, sig, json.dumps(args)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def root_call(path, iface, method, sig, args):
    """One call as root in a process of its own, not waited for:
    communicate() gives dbus_call.py's JSON (for calls that return only
    when their work is done, like RemoveSpare)."""
    return subprocess.Popen([PYTHON, DBUS_CALL, ENV.address, path, iface, method, sig, json.dumps(args)],
                            stdout=subprocess.PIPE, text=True)


def nobody_call(path, iface, method, sig, args):
    """One call as uid 65534 in a process of its own (a sender of its own),
    not waited for: communicate() gives dbus_call.py's JSON."""
    return subprocess.Popen(NOBODY_PREFIX + [PYTHON, DBUS_CALL, ENV.address, path, iface, method, sig,
                                             json.dumps(args)], stdout=subprocess.PIPE, text=True)


class Burst:
    """One connection (one sender) as uid 65534 that sends the same call
    several times without waiting for the replies: send(n) sends n more,
    replies(n) reads the next n, as dbus_call.py prints them."""

    def __init__(self, path, iface, method, sig, args):
        self.proc = subprocess.Popen(NOBODY_PREFIX + [PYTHON, os.path.abspath(__file__), "--burst", ENV.address,
                                                      path, iface, method, sig, json.dumps(args)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        # Read by hand: select() on a buffered file misses lines already
        # in its buffer.
        self.fd = self.proc.stdout.fileno()
        self.buf = b""
        if self._line(30.0) != "ready":
            raise AssertionError("the burst client did not start")

    def _line(self, timeout):
        """The next line, or None after `timeout` seconds."""
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise AssertionError("the burst client ended")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def send(self, n):
        self.proc.stdin.write(b"%d\n" % n)
        self.proc.stdin.flush()

    def replies(self, n, timeout=30.0):
        out = []
        end = time.monotonic() + timeout
        while len(out) < n:
            line = self._line(end - time.monotonic())
            if line is None:
                raise AssertionError("%d of %d replies after %.0f s: %s" % (len(out), n, timeout, out))
            out.append(json.loads(line))
        return out

    def pending(self):
        """Whether a reply came that was not read."""
        return b"\n" in self.buf or bool(select.select([self.fd], [], [], 0)[0])

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.proc.stdin.close()
        self.proc.stdout.close()


def _burst_main(address, path, iface, method, sig, args):
    """The burst client itself (see Burst), in the uid 65534 process: GDBus
    async calls on a GLib main loop (dbus-python's blocking calls from
    several threads go out one at a time). Options dicts must be empty:
    plain JSON cannot say a variant's type."""
    import sys

    from gi.repository import Gio, GLib

    conn = Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)
    params = GLib.Variant("(%s)" % sig, tuple(json.loads(args)))

    def done(c, res):
        try:
            r = {"result": c.call_finish(res).unpack()}
        except GLib.Error as e:
            name = Gio.DBusError.get_remote_error(e) or ""
            prefix = "GDBus.Error:%s: " % name
            message = e.message[len(prefix):] if e.message.startswith(prefix) else e.message
            r = {"error": name, "message": message}
        print(json.dumps(r), flush=True)

    def got_line(_fd, _cond):
        line = sys.stdin.readline()
        if not line:
            loop.quit()
            return False
        for _ in range(int(line)):
            conn.call("org.dmremap1", path, iface, method, params, None, Gio.DBusCallFlags.NONE, 120000, None, done)
        return True

    loop = GLib.MainLoop()
    GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_IN | GLib.IO_HUP, got_line)
    print("ready", flush=True)
    loop.run()


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 8 and sys.argv[1] == "--burst":
        _burst_main(*sys.argv[2:])
