#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Black-box tests of dm-remapd, the D-Bus service.

A private dbus-daemon with a system-bus-like policy (deny by default, plus
the installed dbus/org.dmremap1.conf itself), polkitd mocked by dbusmock's
polkitd template (the tests decide what it allows), and the built
dm-remapd, unmodified. On hosts without device-mapper there are no Device
objects: the tests that need one skip and say so.

Run: /usr/bin/python3 tests/dbus/test_dbus.py  (needs python3-dbus,
python3-dbusmock; binaries from $DMREMAPD, $DMREMAPCTL)
"""
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

import dbus

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("DBUS_SRC", os.path.join(HERE, "..", "..", "dbus"))
DMREMAPD = os.environ.get("DMREMAPD", "/work/main/build/dbus/dm-remapd")
DMREMAPCTL = os.environ.get("DMREMAPCTL", "/work/main/build/tools/dmremapctl")
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


def wait_for(cond, timeout=10.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def dm_available():
    """device-mapper usable here (then Device objects can exist)."""
    r = subprocess.run([DMREMAPCTL, "list"], capture_output=True, text=True)
    return r.returncode == 0


class Env:
    """The private bus, the polkit mock and the daemon."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="dmremap-dbus-")
        # An unprivileged client must reach the socket.
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "system_bus_socket")
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
        wait_for(lambda: os.path.exists(self.socket), what="the bus socket")
        self.bus = dbus.bus.BusConnection(self.address)
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
        self.daemon = subprocess.Popen([DMREMAPD], env=self.env, stdout=log, stderr=log)
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


def setUpModule():
    global ENV
    ENV = Env()


def tearDownModule():
    if ENV:
        ENV.close()


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
        self.assertEqual(dict(self.manager().Probe(ENV_EMPTY_FILE(), {})), {})

    def device_paths(self):
        om = dbus.Interface(self.obj(ROOT), OM_IF)
        return [str(p) for p, ifs in om.GetManagedObjects().items() if DEV_IF in ifs]

    def set_polkit(self, actions):
        p = ENV.polkit()
        p.SetAllowed(dbus.Array(actions, signature="s"), dbus_interface=MOCK_IF)
        p.ClearCalls(dbus_interface=MOCK_IF)

    def polkit_calls(self):
        return [c for c in ENV.polkit().GetCalls(dbus_interface=MOCK_IF) if c[1] == "CheckAuthorization"]


_EMPTY = []


def ENV_EMPTY_FILE():
    """A 1 MiB file of zeros: never a member."""
    if not _EMPTY:
        path = os.path.join(ENV.dir, "empty.img")
        with open(path, "wb") as f:
            f.truncate(1 << 20)
        os.chmod(path, 0o644)
        _EMPTY.append(path)
    return _EMPTY[0]


class TestIntrospection(DBusTest):
    def introspected(self, path):
        xml = self.obj(path).Introspect(dbus_interface="org.freedesktop.DBus.Introspectable")
        return parse_node(ET.fromstring(xml))

    def check_object(self, path, xml_name):
        want = xml_interfaces(xml_name)
        got = self.introspected(path)
        for iface, d in want.items():
            self.assertIn(iface, got, path)
            self.assertEqual(got[iface]["methods"], d["methods"], path + " " + iface + " methods")
            self.assertEqual(got[iface]["properties"], d["properties"], path + " " + iface + " properties")
            self.assertEqual(got[iface]["signals"], d["signals"], path + " " + iface + " signals")

    def test_manager_matches_xml(self):
        self.check_object(MANAGER, "org.dmremap1.Manager")

    def test_busctl_introspect_manager(self):
        r = subprocess.run(["busctl", "--address=" + ENV.address, "introspect", "--xml-interface", NAME, MANAGER],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = parse_node(ET.fromstring(r.stdout))
        self.assertEqual(got[MGR_IF], xml_interfaces("org.dmremap1.Manager")[MGR_IF])

    def test_root_is_object_manager(self):
        got = self.introspected(ROOT)
        self.assertIn(OM_IF, got)
        self.assertEqual(set(got[OM_IF]["methods"]), {"GetManagedObjects"})
        self.assertEqual(set(got[OM_IF]["signals"]), {"InterfacesAdded", "InterfacesRemoved"})

    def test_devices_match_xml(self):
        paths = self.device_paths()
        if not paths:
            self.skipTest("no active dm-remap device here (device-mapper unavailable or no device): "
                          "Device objects not checked")
        for p in paths:
            self.check_object(p, "org.dmremap1.Device")


class TestObjectManager(DBusTest):
    def test_managed_objects(self):
        om = dbus.Interface(self.obj(ROOT), OM_IF)
        objs = om.GetManagedObjects()
        self.assertIn(MANAGER, objs)
        self.assertEqual(str(objs[MANAGER][MGR_IF]["Version"]), "0.1.0")
        devices = [p for p, ifs in objs.items() if DEV_IF in ifs]
        if not dm_available():
            self.assertEqual(devices, [], "no device-mapper here, so no devices")
        for p in devices:
            self.assertTrue(p.startswith(ROOT + "/devices/"), p)

    def test_version_property(self):
        v = self.obj(MANAGER).Get(MGR_IF, "Version", dbus_interface=PROPS_IF)
        self.assertEqual(str(v), "0.1.0")

    def test_properties_set_denied(self):
        name, _ = self.call_error(self.obj(MANAGER).Set, MGR_IF, "Version", "9", dbus_interface=PROPS_IF)
        self.assertEqual(name, "org.freedesktop.DBus.Error.AccessDenied")

    def test_no_dm_logged_once(self):
        if dm_available():
            self.skipTest("device-mapper works here")
        self.assertEqual(ENV.log().count("device-mapper is not available"), 1, ENV.log())


class TestProbe(DBusTest):
    @classmethod
    def setUpClass(cls):
        cls.image = os.path.join(ENV.dir, "x.img")
        with open(cls.image, "wb") as f:
            f.truncate(64 << 20)
        r = subprocess.run([DMREMAPCTL, "format", "--name", "dbt", "--max-remaps", "4096", cls.image],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        os.chmod(cls.image, 0o644)

    def test_probe_member(self):
        m = self.manager().Probe(self.image, {})
        self.assertEqual(str(m["set_name"]), "dbt")
        self.assertEqual(str(m["role"]), "data")
        self.assertEqual(str(m["device"]), self.image)
        self.assertEqual(m["index"], 0)
        self.assertIsInstance(m["index"], dbus.UInt16)
        self.assertIsInstance(m["generation"], dbus.UInt64)
        self.assertEqual(str(m["source"]), "superblock")
        self.assertEqual(str(m["active"]), "")
        self.assertEqual(len(str(m["set_uuid"])), 36)
        self.assertEqual(len(str(m["member_uuid"])), 36)
        self.assertEqual(set(m.keys()), {"device", "set_uuid", "set_name", "member_uuid", "role", "index",
                                         "generation", "source", "active"})

    def test_probe_empty_file(self):
        self.assertEqual(dict(self.manager().Probe(ENV_EMPTY_FILE(), {})), {})

    def test_probe_missing_path(self):
        name, msg = self.call_error(self.manager().Probe, os.path.join(ENV.dir, "nope"), {})
        self.assertEqual(name, ERR + "NotFound")
        self.assertIn("nope", msg)

    def test_probe_empty_device(self):
        name, msg = self.call_error(self.manager().Probe, "", {})
        self.assertEqual(name, ERR + "InvalidArgument")
        self.assertIn("device", msg)

    def test_unknown_option(self):
        name, msg = self.call_error(self.manager().Probe, self.image, {"frobnicate": True})
        self.assertEqual(name, ERR + "InvalidArgument")
        self.assertIn("frobnicate", msg)

    def test_option_wrong_type(self):
        name, msg = self.call_error(self.manager().Probe, self.image, {"auth.no_user_interaction": "yes"})
        self.assertEqual(name, ERR + "InvalidArgument")
        self.assertIn("auth.no_user_interaction", msg)

    def test_unprivileged_may_read(self):
        if os.geteuid() != 0:
            self.skipTest("not root: cannot run a client as uid 65534")
        self.set_polkit([])
        r = as_nobody(MANAGER, MGR_IF, "Probe", "sa{sv}", [self.image, {}])
        self.assertEqual(r.get("result", {}).get("set_name"), "dbt", r)
        r = as_nobody(MANAGER, MGR_IF, "ListMembers", "a{sv}", [{}])
        self.assertIn("result", r)
        self.assertEqual(self.polkit_calls(), [], "reading asks polkit nothing")

    def test_list_members(self):
        members = self.manager().ListMembers({})
        # Only block devices are enumerated: the image file is not among them.
        for m in members:
            self.assertEqual(set(m.keys()), {"device", "set_uuid", "set_name", "member_uuid", "role", "index",
                                             "generation", "source", "active"})
        self.assertNotIn(self.image, [str(m["device"]) for m in members])


def as_nobody(path, iface, method, sig, args):
    r = subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                        PYTHON, DBUS_CALL, ENV.address, path, iface, method, sig, json.dumps(args)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


# The changing methods reachable without an active device, with arguments
# that fail right after authorization without touching anything: a path
# that does not exist, or (Assemble by UUID) device-mapper itself.
def changing_calls(tmp):
    missing = os.path.join(tmp, "missing-disk")
    return [
        ("Create", "sasa{sv}", [missing, [], {}], ERR + "NotFound"),
        ("Assemble", "asa{sv}", [[missing], {}], ERR + "NotFound"),
    ]


class TestErrors(DBusTest):
    def test_create_errors(self):
        m = self.manager()
        missing = os.path.join(ENV.dir, "missing-disk")
        self.assertEqual(self.call_error(m.Create, missing, [], {})[0], ERR + "NotFound")
        name, msg = self.call_error(m.Create, "", [], {})
        self.assertEqual((name, "data_device" in msg), (ERR + "InvalidArgument", True), msg)
        name, msg = self.call_error(m.Create, missing, [""], {})
        self.assertEqual((name, "spare_devices" in msg), (ERR + "InvalidArgument", True), msg)
        name, msg = self.call_error(m.Create, missing, [], {"block_size": "4096"})
        self.assertEqual((name, "block_size" in msg), (ERR + "InvalidArgument", True), msg)
        name, msg = self.call_error(m.Create, missing, [], {"max_remaps": dbus.UInt64(5)})
        self.assertEqual((name, "max_remaps" in msg), (ERR + "InvalidArgument", True), msg)
        name, msg = self.call_error(m.Create, missing, [], {"bogus": dbus.UInt32(5)})
        self.assertEqual((name, "bogus" in msg), (ERR + "InvalidArgument", True), msg)
        # A regular file: the kernel cannot use one.
        name, msg = self.call_error(m.Create, ENV_EMPTY_FILE(), [], {})
        self.assertEqual((name, "not a block device" in msg), (ERR + "InvalidArgument", True), msg)

    def test_create_without_device_mapper(self):
        if dm_available():
            self.skipTest("device-mapper works here: Create would format the disk")
        loops = [d for d in ("/dev/loop0", "/dev/loop7") if os.path.exists(d)]
        if not loops:
            self.skipTest("no block device node to name")
        # Device-mapper is checked before a byte is written.
        name, msg = self.call_error(self.manager().Create, loops[0], [], {})
        self.assertEqual(name, ERR + "Failed")
        self.assertIn("device-mapper is not available", msg)

    def test_assemble_errors(self):
        m = self.manager()
        name, msg = self.call_error(m.Assemble, [], {})
        self.assertEqual((name, "members" in msg), (ERR + "InvalidArgument", True), msg)
        name, msg = self.call_error(m.Assemble, [], {"uuid": "not-a-uuid"})
        self.assertEqual((name, "uuid" in msg), (ERR + "InvalidArgument", True), msg)
        name, msg = self.call_error(m.Assemble, [ENV_EMPTY_FILE()], {"uuid": "739fbdb9-67d7-4d25-b869-a61f5e499891"})
        self.assertEqual((name, "uuid" in msg), (ERR + "InvalidArgument", True), msg)
        self.assertEqual(self.call_error(m.Assemble, [os.path.join(ENV.dir, "nope")], {})[0], ERR + "NotFound")
        self.assertEqual(self.call_error(m.Assemble, [ENV_EMPTY_FILE()], {})[0], ERR + "InvalidArgument")
        if not dm_available():
            name, msg = self.call_error(m.Assemble, [], {"uuid": "739fbdb9-67d7-4d25-b869-a61f5e499891"})
            self.assertEqual(name, ERR + "Failed")
            self.assertIn("device-mapper is not available", msg)

    def test_malformed_arguments(self):
        o = self.obj(MANAGER)
        # Wrong signature: the bus library refuses it before our code.
        name, _ = self.call_error(o.get_dbus_method("Probe", MGR_IF), dbus.Int32(5), signature="i")
        self.assertEqual(name, "org.freedesktop.DBus.Error.InvalidArgs")
        name, _ = self.call_error(o.get_dbus_method("Create", MGR_IF), "x", signature="s")
        self.assertEqual(name, "org.freedesktop.DBus.Error.InvalidArgs")
        # Variant holding nested containers of the wrong kind.
        name, _ = self.call_error(self.manager().Probe, ENV_EMPTY_FILE(),
                                  {"auth.no_user_interaction": dbus.Array([1, 2], signature="i")})
        self.assertEqual(name, ERR + "InvalidArgument")
        # A member the policy does not list: the bus refuses it.
        name, _ = self.call_error(o.get_dbus_method("NoSuchMethod", MGR_IF))
        self.assertEqual(name, "org.freedesktop.DBus.Error.AccessDenied")
        self.assertAlive()

    def test_unknown_object_paths(self):
        for path in ("/org/dmremap1/devices/nope", "/org/dmremap1/jobs/1", "/org/dmremap1/Nothing"):
            o = self.obj(path, introspect=False)
            name, _ = self.call_error(o.get_dbus_method("Stop", DEV_IF), {}, signature="a{sv}")
            self.assertIn(name, ("org.freedesktop.DBus.Error.UnknownObject",
                                 "org.freedesktop.DBus.Error.UnknownMethod"), path)
            name, _ = self.call_error(o.Get, DEV_IF, "Name", dbus_interface=PROPS_IF)
            self.assertIn(name, ("org.freedesktop.DBus.Error.UnknownObject",
                                 "org.freedesktop.DBus.Error.UnknownInterface",
                                 "org.freedesktop.DBus.Error.UnknownProperty"), path)
        self.assertAlive()

    def test_denied_by_bus_policy(self):
        # Not in org.dmremap1.conf: the bus itself refuses it.
        name, _ = self.call_error(self.obj(MANAGER).get_dbus_method("Frobnicate", "org.example.Other"))
        self.assertEqual(name, "org.freedesktop.DBus.Error.AccessDenied")


@unittest.skipIf(os.geteuid() != 0, "not root: cannot run a client as uid 65534, authorization tests skipped")
class TestAuthorization(DBusTest):
    def tearDown(self):
        self.set_polkit([])

    def test_denied_when_polkit_denies(self):
        self.set_polkit([])
        for method, sig, args, _ in changing_calls(ENV.dir):
            r = as_nobody(MANAGER, MGR_IF, method, sig, args)
            self.assertEqual(r.get("error"), ERR + "NotAuthorized", (method, r))
            self.assertIn("org.dmremap1.manage", r["message"])
        calls = self.polkit_calls()
        self.assertEqual(len(calls), len(changing_calls(ENV.dir)))
        for c in calls:
            subject, action, _details, flags, _cancel = c[2]
            self.assertEqual(str(subject[0]), "system-bus-name")
            self.assertTrue(str(subject[1]["name"]).startswith(":"), subject)
            self.assertEqual(str(action), "org.dmremap1.manage")
            self.assertEqual(int(flags), 1, "AllowUserInteraction by default")

    def test_allowed_when_polkit_allows(self):
        self.set_polkit(["org.dmremap1.manage"])
        for method, sig, args, after in changing_calls(ENV.dir):
            r = as_nobody(MANAGER, MGR_IF, method, sig, args)
            # The error of the operation itself: authorization came first and passed.
            self.assertEqual(r.get("error"), after, (method, r))
        self.assertEqual(len(self.polkit_calls()), len(changing_calls(ENV.dir)))

    def test_assemble_by_uuid_reaches_device_mapper(self):
        if dm_available():
            self.skipTest("device-mapper works here: would look for a real set")
        self.set_polkit(["org.dmremap1.manage"])
        r = as_nobody(MANAGER, MGR_IF, "Assemble", "asa{sv}", [[], {"uuid": "739fbdb9-67d7-4d25-b869-a61f5e499891"}])
        self.assertEqual(r.get("error"), ERR + "Failed", r)
        self.assertIn("device-mapper", r["message"])

    def test_no_user_interaction_flag(self):
        self.set_polkit([])
        method, sig, args, _ = changing_calls(ENV.dir)[0]
        args = [args[0], args[1], {"auth.no_user_interaction": True}]
        r = as_nobody(MANAGER, MGR_IF, method, sig, args)
        self.assertEqual(r.get("error"), ERR + "NotAuthorized", r)
        calls = self.polkit_calls()
        self.assertEqual(len(calls), 1)
        self.assertEqual(int(calls[0][2][3]), 0)

    def test_root_needs_no_polkit(self):
        self.set_polkit([])
        for method, sig, args, after in changing_calls(ENV.dir):
            r = json.loads(subprocess.run([PYTHON, DBUS_CALL, ENV.address, MANAGER, MGR_IF, method, sig,
                                           json.dumps(args)], capture_output=True, text=True, check=True).stdout)
            self.assertEqual(r.get("error"), after, (method, r))
        self.assertEqual(self.polkit_calls(), [])

    def test_polkit_unreachable_denies(self):
        ENV.stop_polkit()
        try:
            for method, sig, args, _ in changing_calls(ENV.dir):
                r = as_nobody(MANAGER, MGR_IF, method, sig, args)
                self.assertEqual(r.get("error"), ERR + "NotAuthorized", (method, r))
                self.assertIn("cannot check authorization", r["message"])
        finally:
            ENV.start_polkit()
        self.assertAlive()
        # And it finds polkit again.
        self.set_polkit(["org.dmremap1.manage"])
        method, sig, args, after = changing_calls(ENV.dir)[0]
        self.assertEqual(as_nobody(MANAGER, MGR_IF, method, sig, args).get("error"), after)

    def test_device_methods(self):
        paths = self.device_paths()
        if not paths:
            self.skipTest("no active dm-remap device here (device-mapper unavailable or no device): "
                          "authorization of AddSpare, RemoveSpare, Remap, Stop not checked")
        self.set_polkit([])
        for method, sig, args in (("AddSpare", "sa{sv}", ["/nonexistent", {}]),
                                  ("RemoveSpare", "sa{sv}", ["/nonexistent", {}]),
                                  ("Remap", "ta{sv}", [0, {}]),
                                  ("Stop", "a{sv}", [{}])):
            r = as_nobody(paths[0], DEV_IF, method, sig, args)
            self.assertEqual(r.get("error"), ERR + "NotAuthorized", (method, r))

    def test_bus_thread_not_blocked_by_polkit(self):
        # While the worker waits on a slow polkit, properties still answer.
        self.set_polkit([])
        ENV.polkit().SetDelay(3.0, dbus_interface=MOCK_IF)
        try:
            method, sig, args, _ = changing_calls(ENV.dir)[0]
            slow = subprocess.Popen(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                                     PYTHON, DBUS_CALL, ENV.address, MANAGER, MGR_IF, method, sig,
                                     json.dumps(args)], stdout=subprocess.PIPE, text=True)
            wait_for(lambda: len(self.polkit_calls()) == 1, what="the polkit call")
            t = time.monotonic()
            self.assertEqual(str(self.obj(MANAGER).Get(MGR_IF, "Version", dbus_interface=PROPS_IF)), "0.1.0")
            self.assertLess(time.monotonic() - t, 1.0)
            out, _ = slow.communicate(timeout=30)
            self.assertEqual(json.loads(out).get("error"), ERR + "NotAuthorized")
        finally:
            ENV.polkit().SetDelay(0.0, dbus_interface=MOCK_IF)

    def test_client_disconnects_mid_call(self):
        self.set_polkit([])
        ENV.polkit().SetDelay(2.0, dbus_interface=MOCK_IF)
        try:
            method, sig, args, _ = changing_calls(ENV.dir)[0]
            client = subprocess.Popen(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                                       PYTHON, DBUS_CALL, ENV.address, MANAGER, MGR_IF, method, sig,
                                       json.dumps(args)], stdout=subprocess.DEVNULL)
            wait_for(lambda: len(self.polkit_calls()) == 1, what="the polkit call")
            client.kill()
            client.wait()
            time.sleep(2.5)  # the daemon replies to nobody
        finally:
            ENV.polkit().SetDelay(0.0, dbus_interface=MOCK_IF)
        self.assertAlive()


class TestZRestart(DBusTest):
    """Last (by name): the daemon goes away and comes back."""

    def test_restart(self):
        rc = ENV.stop_daemon()
        self.assertEqual(rc, 0, ENV.log())
        wait_for(lambda: not ENV.has_owner(NAME), what="the name to be released")
        name, _ = self.call_error(lambda: self.obj(MANAGER).Get(MGR_IF, "Version", dbus_interface=PROPS_IF))
        self.assertEqual(name, "org.freedesktop.DBus.Error.ServiceUnknown")
        ENV.start_daemon()
        om = dbus.Interface(self.obj(ROOT), OM_IF)
        self.assertIn(MANAGER, om.GetManagedObjects())
        self.assertAlive()


if __name__ == "__main__":
    unittest.main(verbosity=2, buffer=False)
