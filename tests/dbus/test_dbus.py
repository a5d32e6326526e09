#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Black-box tests of dm-remapd, the D-Bus service.

A private dbus-daemon with a system-bus-like policy (deny by default, plus
the installed dbus/org.dmremap1.conf itself), polkitd mocked by dbusmock's
polkitd template (the tests decide what it allows), and the built
dm-remapd, unmodified. On hosts without device-mapper there are no Device
objects: the tests that need one skip and say so (tests/dbus/vm-devices.sh
runs this file again in the VM kernels, with a device, where they must
run); the ones that need device-mapper to be missing run here and skip
there. The authorization tests run clients as uid 65534: run as root.

Run: /usr/bin/python3 tests/dbus/test_dbus.py  (needs python3-dbus,
python3-dbusmock; binaries from $DMREMAPD, $DMREMAPCTL)
"""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import xml.etree.ElementTree as ET

import dbus

import dbus_env as E
from dbus_env import (DBUS_CALL, DEV_IF, DMREMAPCTL, ERR, MANAGER, MGR_IF, MOCK_IF, NAME, NOBODY, OM_IF,
                      PROPS_IF, PYTHON, ROOT, DBusTest, as_nobody, dm_available, parse_node, wait_for, xml_interfaces)

# Set by tests/dbus/vm-devices.sh, which runs this with an active dm-remap
# device: then the checks of Device objects must run, not skip.
EXPECT_DEVICE = os.environ.get("DMREMAP_TEST_EXPECT_DEVICE") == "1"


def setUpModule():
    E.start()


def tearDownModule():
    E.stop()


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
        r = subprocess.run(["busctl", "--address=" + E.ENV.address, "introspect", "--xml-interface", NAME, MANAGER],
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
            self.assertFalse(EXPECT_DEVICE, "no Device object, but tests/dbus/vm-devices.sh made one")
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
        self.assertEqual(E.ENV.log().count("device-mapper is not available"), 1, E.ENV.log())


class TestProbe(DBusTest):
    @classmethod
    def setUpClass(cls):
        cls.image = os.path.join(E.ENV.dir, "x.img")
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
        self.assertEqual(dict(self.manager().Probe(E.empty_file(), {})), {})

    def test_probe_missing_path(self):
        name, msg = self.call_error(self.manager().Probe, os.path.join(E.ENV.dir, "nope"), {})
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
        E.require_root()
        self.set_polkit([])
        # Block devices only: probing a file as root for anyone would
        # disclose what is in files they cannot read.
        r = as_nobody(MANAGER, MGR_IF, "Probe", "sa{sv}", [self.image, {}])
        self.assertEqual(r.get("error"), "org.dmremap1.Error.NotAuthorized", r)
        r = as_nobody(MANAGER, MGR_IF, "Probe", "sa{sv}", ["/dev/null", {}])
        self.assertEqual(r.get("error"), "org.dmremap1.Error.NotAuthorized", r)
        # Outside /dev not even looked at: a missing path reads as the
        # existing file does, so it tells nothing.
        r = as_nobody(MANAGER, MGR_IF, "Probe", "sa{sv}", [os.path.join(E.ENV.dir, "nope"), {}])
        self.assertEqual(r.get("error"), "org.dmremap1.Error.NotAuthorized", r)
        self.assertIn("outside /dev", r["message"])
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




# The changing methods reachable without an active device, with arguments
# that fail right after authorization without touching anything: a path
# that does not exist, or (Assemble by UUID) device-mapper itself.
def changing_calls(tmp):
    missing = os.path.join(tmp, "missing-disk")
    return [
        ("Create", "asa{sv}", [[missing], {}], ERR + "NotFound"),
        ("Assemble", "asa{sv}", [[missing], {}], ERR + "NotFound"),
    ]


# The action each of changing_calls() is checked against, and the words its
# polkit.message starts with.
CALL_ACTIONS = {"Create": (E.CREATE, "Authentication is required to format "),
                "Assemble": (E.ASSEMBLE, "Authentication is required to start the dm-remap set on ")}


class TestErrors(DBusTest):
    def test_create_errors(self):
        m = self.manager()
        missing = os.path.join(E.ENV.dir, "missing-disk")
        self.assertEqual(self.call_error(m.Create, [missing], {})[0], ERR + "NotFound")
        name, msg = self.call_error(m.Create, [], {})
        self.assertEqual((name, "devices: empty" in msg), (ERR + "InvalidArgument", True), msg)
        name, msg = self.call_error(m.Create, [""], {})
        self.assertEqual((name, "devices" in msg), (ERR + "InvalidArgument", True), msg)
        name, msg = self.call_error(m.Create, [missing, ""], {})
        self.assertEqual((name, "devices" in msg), (ERR + "InvalidArgument", True), msg)
        name, msg = self.call_error(m.Create, [missing], {"block_size": "4096"})
        self.assertEqual((name, "block_size" in msg), (ERR + "InvalidArgument", True), msg)
        name, msg = self.call_error(m.Create, [missing], {"max_remaps": dbus.UInt64(5)})
        self.assertEqual((name, "max_remaps" in msg), (ERR + "InvalidArgument", True), msg)
        name, msg = self.call_error(m.Create, [missing], {"bogus": dbus.UInt32(5)})
        self.assertEqual((name, "bogus" in msg), (ERR + "InvalidArgument", True), msg)
        # A scan schedule systemd refuses, or one that would add a line to
        # the timer's drop-in: refused before the (missing) disk is looked at.
        for bad in ("fortnightly", "daily\nExecStart=/bin/sh"):
            name, msg = self.call_error(m.Create, [missing], {"scan_schedule": bad})
            self.assertEqual((name, msg.startswith("scan schedule")), (ERR + "InvalidArgument", True), msg)
        # A regular file: the kernel cannot use one.
        name, msg = self.call_error(m.Create, [E.empty_file()], {})
        self.assertEqual((name, "not a block device" in msg), (ERR + "InvalidArgument", True), msg)

    def test_create_without_device_mapper(self):
        if dm_available():
            self.skipTest("device-mapper works here: Create would format the disk")
        loops = [d for d in ("/dev/loop0", "/dev/loop7") if os.path.exists(d)]
        if not loops:
            self.skipTest("no block device node to name")
        # Device-mapper is checked before a byte is written.
        name, msg = self.call_error(self.manager().Create, [loops[0]], {})
        self.assertEqual(name, ERR + "Failed")
        self.assertIn("device-mapper is not available", msg)

    def test_assemble_errors(self):
        m = self.manager()
        name, msg = self.call_error(m.Assemble, [], {})
        self.assertEqual((name, "members" in msg), (ERR + "InvalidArgument", True), msg)
        name, msg = self.call_error(m.Assemble, [], {"uuid": "not-a-uuid"})
        self.assertEqual((name, "uuid" in msg), (ERR + "InvalidArgument", True), msg)
        name, msg = self.call_error(m.Assemble, [E.empty_file()], {"uuid": "739fbdb9-67d7-4d25-b869-a61f5e499891"})
        self.assertEqual((name, "uuid" in msg), (ERR + "InvalidArgument", True), msg)
        name, msg = self.call_error(m.Assemble, [], {"uuid": "00000000-0000-0000-0000-000000000000"})
        self.assertEqual((name, "uuid" in msg), (ERR + "InvalidArgument", True), msg)
        # Checked before anything is read or asked: a missing member does not matter yet.
        name, msg = self.call_error(m.Assemble, [os.path.join(E.ENV.dir, "nope")], {"name": "a/b"})
        self.assertEqual(name, ERR + "InvalidArgument", msg)
        self.assertEqual(msg, "name 'a/b' is not a valid device name "
                              "(1-127 of A-Z a-z 0-9 _ - . + : @, not starting with . or -)")
        self.assertEqual(self.call_error(m.Assemble, [os.path.join(E.ENV.dir, "nope")], {})[0], ERR + "NotFound")
        self.assertEqual(self.call_error(m.Assemble, [E.empty_file()], {})[0], ERR + "InvalidArgument")
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
        name, _ = self.call_error(self.manager().Probe, E.empty_file(),
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


class TestAuthorization(DBusTest):
    def setUp(self):
        E.require_root()

    def tearDown(self):
        self.set_polkit([])

    def test_denied_when_polkit_denies(self):
        self.set_polkit([])
        for method, sig, args, _ in changing_calls(E.ENV.dir):
            r = as_nobody(MANAGER, MGR_IF, method, sig, args)
            self.assertEqual(r.get("error"), ERR + "NotAuthorized", (method, r))
            self.assertIn(CALL_ACTIONS[method][0] + ": not authorized", r["message"])
        calls = self.polkit_calls()
        self.assertEqual(len(calls), len(changing_calls(E.ENV.dir)))
        # Each check names its action by consequence, the disk in the
        # details (for rules) and in the message (for the dialog).
        for c, (method, _, args, _) in zip(calls, changing_calls(E.ENV.dir)):
            subject, action, details, flags, _cancel = c[2]
            disk = args[0] if isinstance(args[0], str) else args[0][0]
            self.assertEqual(str(subject[0]), "system-bus-name")
            self.assertTrue(str(subject[1]["name"]).startswith(":"), subject)
            self.assertEqual(str(action), CALL_ACTIONS[method][0], method)
            self.assertEqual(str(details["device"]), disk, method)
            self.assertTrue(str(details["polkit.message"]).startswith(CALL_ACTIONS[method][1] + disk), details)
            self.assertNotIn("name", details, "no name was given")
            self.assertEqual(int(flags), 1, "AllowUserInteraction by default")

    def test_bad_options_refused_before_polkit(self):
        self.set_polkit([])
        missing = os.path.join(E.ENV.dir, "missing-disk")
        for options, want in (({"block_size": {"$u": 3000}}, "block size 3000 is not a power of two"),
                              ({"max_remaps": {"$u": 5}}, "remap capacity must be between 256"),
                              ({"name": "a/b"}, "set name 'a/b' is not a valid device name"),
                              ({"uuid": "not-a-uuid"}, "options: 'uuid' is not a UUID")):
            r = as_nobody(MANAGER, MGR_IF, "Create", "asa{sv}", [[missing], options])
            self.assertEqual(r.get("error"), ERR + "InvalidArgument", (options, r))
            self.assertIn(want, r["message"])
        self.assertEqual(self.polkit_calls(), [], "polkit was asked about arguments that were refused anyway")

    def test_allowed_when_polkit_allows(self):
        self.set_polkit(E.ACTIONS)
        for method, sig, args, after in changing_calls(E.ENV.dir):
            r = as_nobody(MANAGER, MGR_IF, method, sig, args)
            # The error of the operation itself: authorization came first and passed.
            self.assertEqual(r.get("error"), after, (method, r))
        self.assertEqual(len(self.polkit_calls()), len(changing_calls(E.ENV.dir)))

    def test_assemble_all_denied(self):
        # Not in changing_calls: allowed, it would start whatever sets this
        # machine has.
        self.set_polkit([])
        before = self.device_paths()
        r = as_nobody(MANAGER, MGR_IF, "AssembleAll", "a{sv}", [{}])
        self.assertEqual(r.get("error"), ERR + "NotAuthorized", r)
        self.assertEqual(len(self.polkit_calls()), 1)
        self.assertEqual(self.device_paths(), before)

    def test_assemble_by_uuid_reaches_device_mapper(self):
        if dm_available():
            self.skipTest("device-mapper works here: would look for a real set")
        self.set_polkit(E.ACTIONS)
        r = as_nobody(MANAGER, MGR_IF, "Assemble", "asa{sv}", [[], {"uuid": "739fbdb9-67d7-4d25-b869-a61f5e499891"}])
        self.assertEqual(r.get("error"), ERR + "Failed", r)
        self.assertIn("device-mapper", r["message"])

    def test_no_user_interaction_flag(self):
        self.set_polkit([])
        method, sig, args, _ = changing_calls(E.ENV.dir)[0]
        args = [args[0], {"auth.no_user_interaction": True}]
        r = as_nobody(MANAGER, MGR_IF, method, sig, args)
        self.assertEqual(r.get("error"), ERR + "NotAuthorized", r)
        calls = self.polkit_calls()
        self.assertEqual(len(calls), 1)
        self.assertEqual(int(calls[0][2][3]), 0)

    def test_root_needs_no_polkit(self):
        self.set_polkit([])
        for method, sig, args, after in changing_calls(E.ENV.dir):
            r = json.loads(subprocess.run([PYTHON, DBUS_CALL, E.ENV.address, MANAGER, MGR_IF, method, sig,
                                           json.dumps(args)], capture_output=True, text=True, check=True).stdout)
            self.assertEqual(r.get("error"), after, (method, r))
        self.assertEqual(self.polkit_calls(), [])

    def test_polkit_unreachable_denies(self):
        E.ENV.stop_polkit()
        try:
            for method, sig, args, _ in changing_calls(E.ENV.dir):
                r = as_nobody(MANAGER, MGR_IF, method, sig, args)
                self.assertEqual(r.get("error"), ERR + "NotAuthorized", (method, r))
                self.assertIn("cannot check authorization", r["message"])
        finally:
            E.ENV.start_polkit()
        self.assertAlive()
        # And it finds polkit again.
        self.set_polkit(E.ACTIONS)
        method, sig, args, after = changing_calls(E.ENV.dir)[0]
        self.assertEqual(as_nobody(MANAGER, MGR_IF, method, sig, args).get("error"), after)

    def test_replace_passes_bus_policy(self):
        """org.dmremap1.conf lets anyone call Replace (polkit decides, in
        the daemon): a device that does not exist is the daemon's answer,
        not the bus's AccessDenied."""
        self.set_polkit([])
        r = as_nobody(ROOT + "/devices/nope", DEV_IF, "Replace", "sa{sv}", ["/dev/nonexistent", {}])
        self.assertIn(r.get("error"), ("org.freedesktop.DBus.Error.UnknownObject",
                                       "org.freedesktop.DBus.Error.UnknownMethod"), r)
        r = as_nobody(ROOT + "/devices/nope", DEV_IF, "Frobnicate", "sa{sv}", ["/dev/nonexistent", {}])
        self.assertEqual(r.get("error"), "org.freedesktop.DBus.Error.AccessDenied", r)
        self.assertEqual(self.polkit_calls(), [])

    def test_device_methods(self):
        paths = self.device_paths()
        if not paths:
            self.assertFalse(EXPECT_DEVICE, "no Device object, but tests/dbus/vm-devices.sh made one")
            self.skipTest("no active dm-remap device here (device-mapper unavailable or no device): "
                          "authorization of AddSpare, RemoveSpare, Remap, StartScan, Replace, Stop not checked")
        name = paths[0].rsplit("/", 1)[1]
        for method, sig, args, action, device in (("AddSpare", "sa{sv}", ["/nonexistent", {}], E.SPARE, "/nonexistent"),
                                                  ("RemoveSpare", "sa{sv}", ["/nonexistent", {}], E.SPARE,
                                                   "/nonexistent"),
                                                  ("Remap", "ta{sv}", [0, {}], E.REMAP, None),
                                                  ("StartScan", "a{sv}", [{}], E.SCAN, None),
                                                  ("Replace", "sa{sv}", ["/nonexistent", {}], E.REPLACE,
                                                   "/nonexistent"),
                                                  ("Stop", "a{sv}", [{}], E.ASSEMBLE, None)):
            self.set_polkit([])
            r = as_nobody(paths[0], DEV_IF, method, sig, args)
            self.assertEqual(r.get("error"), ERR + "NotAuthorized", (method, r))
            [c] = self.polkit_calls()
            _, got, details, _, _ = c[2]
            self.assertEqual((str(got), str(details["name"]), details.get("device")), (action, name, device), method)
            self.assertIn(name, str(details["polkit.message"]))
        # Replace's options are checked before polkit is asked.
        self.set_polkit([])
        for options, want in (({"bogus": True}, "options: unknown option 'bogus'"),
                              ({"keep_spares": "yes"}, "options: 'keep_spares' must be of type 'b', not 's'"),
                              ({"spares": ["/nonexistent"]}, "options: 'spares' names /nonexistent, the new data "
                                                             "disk, as a spare too")):
            r = as_nobody(paths[0], DEV_IF, "Replace", "sa{sv}", ["/nonexistent", options])
            self.assertEqual((r.get("error"), r.get("message")), (ERR + "InvalidArgument", want), options)
        self.assertEqual(self.polkit_calls(), [], "polkit was asked about arguments that were refused anyway")

    # Authorizer::kMaxPendingPerSender
    LIMIT = 8

    def hang_polkit(self):
        """From now on polkit holds every check of every action (as an
        agent waiting for a password would) until ReleaseHangingCalls; its
        own main loop keeps serving. (SetDelay sleeps in that loop, which
        stalls the other callers' checks too, so it could not show a daemon
        that serializes them.)"""
        self.set_polkit([])
        E.ENV.polkit().SimulateHangActions(dbus.Array(E.ACTIONS, signature="s"),
                                           dbus_interface=MOCK_IF)
        self.addCleanup(self.unhang_polkit)

    def unhang_polkit(self):
        p = E.ENV.polkit()
        p.SimulateHangActions(dbus.Array([], signature="s"), dbus_interface=MOCK_IF)
        p.ReleaseHangingCalls(dbus_interface=MOCK_IF)

    def release_polkit(self):
        E.ENV.polkit().ReleaseHangingCalls(dbus_interface=MOCK_IF)

    def test_others_not_blocked_by_hanging_polkit(self):
        self.hang_polkit()
        method, sig, args, after = changing_calls(E.ENV.dir)[0]
        slow = E.nobody_call(MANAGER, MGR_IF, method, sig, args)
        self.addCleanup(slow.kill)
        wait_for(lambda: len(self.polkit_calls()) == 1, what="the polkit check")
        m = self.manager()
        t = time.monotonic()
        # Root's changing call needs no polkit: it runs and fails on its own
        # merits while the other caller's check still hangs. The check
        # hangs until released below, so answering at all proves nobody
        # waited for it (the timeouts only end a regression's hang).
        name, _ = self.call_error(m.Create, *args, timeout=60)
        self.assertEqual(name, after)
        self.assertEqual(str(self.obj(MANAGER).Get(MGR_IF, "Version", dbus_interface=PROPS_IF, timeout=60)),
                         "0.1.0")
        self.assertEqual(dict(m.Probe(E.empty_file(), {}, timeout=60)), {})
        print("answered in %.2f s while polkit hung" % (time.monotonic() - t))
        self.assertIsNone(slow.poll(), "the hanging caller was answered before polkit answered")
        self.release_polkit()
        out, _ = slow.communicate(timeout=30)
        self.assertEqual(json.loads(out).get("error"), ERR + "NotAuthorized")

    def test_client_killed_mid_check(self):
        self.hang_polkit()
        method, sig, args, _ = changing_calls(E.ENV.dir)[0]
        burst = E.Burst(MANAGER, MGR_IF, method, sig, args)
        self.addCleanup(burst.close)
        burst.send(self.LIMIT)
        wait_for(lambda: len(self.polkit_calls()) == self.LIMIT, what="the polkit checks")
        burst.close()
        # polkit answers for a caller that is gone: the replies go nowhere.
        self.unhang_polkit()
        self.assertAlive()
        # The checks' thread still works: a new caller is checked and answered.
        r = as_nobody(MANAGER, MGR_IF, method, sig, args)
        self.assertEqual(r.get("error"), ERR + "NotAuthorized", r)

    def test_per_sender_limit(self):
        self.hang_polkit()
        method, sig, args, _ = changing_calls(E.ENV.dir)[0]
        burst = E.Burst(MANAGER, MGR_IF, method, sig, args)
        self.addCleanup(burst.close)
        burst.send(self.LIMIT + 1)
        # Only the one over the limit is answered, at once and by us.
        busy = burst.replies(1, timeout=10)[0]
        self.assertEqual(busy.get("error"), ERR + "Busy", busy)
        self.assertIn(str(self.LIMIT), busy["message"])
        wait_for(lambda: len(self.polkit_calls()) == self.LIMIT, what="the polkit checks")
        # Another sender of the same uid has places of its own.
        other = E.nobody_call(MANAGER, MGR_IF, method, sig, args)
        self.addCleanup(other.kill)
        wait_for(lambda: len(self.polkit_calls()) == self.LIMIT + 1, what="the other sender's check")
        self.assertFalse(burst.pending())
        self.release_polkit()
        for r in burst.replies(self.LIMIT):
            self.assertEqual(r.get("error"), ERR + "NotAuthorized", r)
        out, _ = other.communicate(timeout=30)
        self.assertEqual(json.loads(out).get("error"), ERR + "NotAuthorized")
        # Every place was given back: the same sender gets the limit again,
        # and again only the one over it is answered (Busy once LIMIT
        # checks are waiting: a place not given back makes it come sooner,
        # with fewer checks asked).
        self.set_polkit([])
        burst.send(self.LIMIT + 1)
        busy = burst.replies(1)[0]
        self.assertEqual(busy.get("error"), ERR + "Busy", "a call was answered while its check hangs: %s" % busy)
        wait_for(lambda: len(self.polkit_calls()) == self.LIMIT, what="the polkit checks, again")
        self.assertFalse(burst.pending(), "a call was answered while its check hangs")
        self.release_polkit()
        for r in burst.replies(self.LIMIT):
            self.assertEqual(r.get("error"), ERR + "NotAuthorized", r)
        self.assertAlive()


class TestReadFlood(DBusTest):
    def test_flood_gets_busy_not_a_stall(self):
        """One user's flood of reads: a few run, the rest are refused at
        once (Busy, the per-user limit), and nobody else waits for them."""
        burst = E.Burst(MANAGER, MGR_IF, "ListMembers", "a{sv}", [{}])
        self.addCleanup(burst.close)
        burst.send(60)
        t = time.monotonic()
        # Root is answered meanwhile.
        self.assertEqual(dict(self.manager().Probe(E.empty_file(), {}, timeout=30)), {})
        self.assertLess(time.monotonic() - t, 20)
        replies = burst.replies(60, timeout=60)
        busy = [r for r in replies if r.get("error") == ERR + "Busy"]
        ok = [r for r in replies if "result" in r]
        self.assertEqual(len(busy) + len(ok), 60, [r for r in replies if r not in busy and r not in ok])
        self.assertGreater(len(busy), 0, "60 calls at once never met the per-user limit")
        # The per-caller limit on identification, or the per-user one on work.
        self.assertTrue(all("the limit per " in r["message"] for r in busy), busy)
        self.assertGreater(len(ok), 0)
        self.assertAlive()


class TestYIdle(DBusTest):
    def test_idle_daemon_sleeps(self):
        """No polling: an idle dm-remapd has no timer or poll timeout that
        wakes it (history and health move on kernel events and a daily
        wait). Ten seconds with no call must cost no context switch."""
        self.assertAlive()
        pid = E.ENV.daemon.pid
        time.sleep(1)  # the answer to assertAlive's call has gone out
        before = E.context_switches(pid)
        time.sleep(10)
        after = E.context_switches(pid)
        self.assertEqual(after - before, 0, "dm-remapd woke up %d times in 10 s while idle" % (after - before))


class TestZRestart(DBusTest):
    """Last (by name): the daemon goes away and comes back."""

    def test_restart(self):
        devices = sorted(self.device_paths())
        rc = E.ENV.stop_daemon()
        self.assertEqual(rc, 0, E.ENV.log())
        wait_for(lambda: not E.ENV.has_owner(NAME), what="the name to be released")
        name, _ = self.call_error(lambda: self.obj(MANAGER).Get(MGR_IF, "Version", dbus_interface=PROPS_IF))
        self.assertEqual(name, "org.freedesktop.DBus.Error.ServiceUnknown")
        E.ENV.start_daemon()
        om = dbus.Interface(self.obj(ROOT), OM_IF)
        self.assertIn(MANAGER, om.GetManagedObjects())
        # Active devices are found again (in the VM's second run there is one).
        self.assertEqual(sorted(self.device_paths()), devices)
        if EXPECT_DEVICE:
            self.assertTrue(devices, "no device to re-discover")
        self.assertAlive()


if __name__ == "__main__":
    import testmain
    sys.exit(testmain.main())
