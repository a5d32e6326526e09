#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""dmremapctl through dm-remapd, on this host (no device needed): a polkit
refusal exits 5 (dmremapctl(8), EXIT STATUS), and on a terminal a user's
dmremapctl starts pkttyagent for itself before the call, as systemctl
does: the real pkttyagent registers with the polkit mock (dbus_env), which
records the registration and the CheckAuthorization that follows. No agent
without a terminal, for root, or with --no-ask-password; without
pkttyagent on PATH the call goes on.

The mock refuses everything here, so nothing on the host is ever assembled
or formatted. Run as root: clients run as uid 65534.
"""
import os
import pty
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import dbus

import dbus_env as E
from dbus_env import DMREMAPCTL, MOCK_IF, NOBODY, DBusTest

AUTHORITY_IF = "org.freedesktop.PolicyKit1.Authority"
NOT_AUTHORIZED = 5
DENIED = ("dmremapctl assemble: not authorized (polkit): org.dmremap1.assemble: not authorized for uid %d\n"
          % NOBODY)


def setUpModule():
    E.require_root()
    E.start()


def tearDownModule():
    E.stop()


def env(**extra):
    e = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=E.ENV.address)
    e.pop("DMREMAPCTL_BACKEND", None)
    e.update(extra)
    return e


def on_pty(args, uid=NOBODY, **extra):
    """(exit status, terminal output, pid) of dmremapctl run as `uid` with a
    pseudo-terminal as stdin, stdout and stderr."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            if uid != 0:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            os.chdir("/")
            os.execve(DMREMAPCTL, [DMREMAPCTL, *args], env(**extra))
        finally:
            os._exit(127)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every process on the terminal is gone
            break
        if not chunk:
            break
        out += chunk
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace").replace("\r\n", "\n"), pid


def no_tty(args):
    """(exit status, stdout, stderr) as uid 65534 with stdin from /dev/null."""
    r = subprocess.run(E.NOBODY_PREFIX + [DMREMAPCTL, *args], capture_output=True, text=True, env=env(),
                       stdin=subprocess.DEVNULL, cwd="/", timeout=120)
    return r.returncode, r.stdout, r.stderr


def agents_for(pid):
    """pkttyagent processes still running for dmremapctl `pid`."""
    found = []
    for d in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"pkttyagent" and str(pid).encode() in argv:
            found.append(int(d))
    return found


@unittest.skipUnless(shutil.which("pkttyagent"), "pkttyagent not installed (polkitd, scripts/install-deps)")
class TestAgent(DBusTest):
    def setUp(self):
        p = E.ENV.polkit()
        # pkttyagent --fallback registers with options, which the template lacks.
        if not getattr(TestAgent, "_added", False):
            p.AddMethod(AUTHORITY_IF, "RegisterAuthenticationAgentWithOptions", "(sa{sv})ssa{sv}", "", "",
                        dbus_interface=MOCK_IF)
            TestAgent._added = True
        self.set_polkit([])

    def calls(self):
        """[(method, args)] the polkit mock saw, in order."""
        return [(str(c[1]), c[2]) for c in E.ENV.polkit().GetCalls(dbus_interface=MOCK_IF)]

    def registrations(self):
        return [a for m, a in self.calls() if m.startswith("RegisterAuthenticationAgent")]

    def interaction_flags(self):
        return [int(a[3]) for m, a in self.calls() if m == "CheckAuthorization"]

    def test_refusal_exits_5(self):
        for args in (("assemble", "--all"), ("assemble", "--uuid", "0123abcd-4567-489a-8bcd-ef0123456789")):
            with self.subTest(args=args):
                self.assertEqual(no_tty(args), (NOT_AUTHORIZED, "", DENIED))
        # stdin is no terminal: polkit may not ask, and no agent was started.
        self.assertEqual(self.interaction_flags(), [0, 0])
        self.assertEqual(self.registrations(), [])

    def test_agent_on_a_terminal(self):
        rc, out, pid = on_pty(["assemble", "--all"])
        self.assertEqual((rc, out), (NOT_AUTHORIZED, DENIED))
        calls = self.calls()
        names = [m for m, _ in calls]
        self.assertEqual(names, ["RegisterAuthenticationAgentWithOptions", "CheckAuthorization"],
                         "the agent registers before the call polkit decides on")
        subject, _locale, _path, options = calls[0][1]
        kind, details = subject
        self.assertEqual((str(kind), int(details["pid"]), int(details["uid"])), ("unix-process", pid, NOBODY))
        self.assertEqual(dict(options), {"fallback": True})
        self.assertEqual(self.interaction_flags(), [1])  # AllowUserInteraction
        self.assertEqual(agents_for(pid), [], "pkttyagent outlived dmremapctl")

    def test_no_ask_password(self):
        rc, out, pid = on_pty(["--no-ask-password", "assemble", "--all"])
        self.assertEqual((rc, out), (NOT_AUTHORIZED, DENIED))
        self.assertEqual(self.registrations(), [])
        self.assertEqual(self.interaction_flags(), [0])

    def test_without_pkttyagent(self):
        rc, out, pid = on_pty(["assemble", "--all"], PATH="/nonexistent")
        self.assertEqual((rc, out), (NOT_AUTHORIZED, DENIED))
        self.assertEqual(self.registrations(), [])
        self.assertEqual(self.interaction_flags(), [1])  # another agent of the session may still answer

    def test_not_for_root(self):
        # Root through the daemon is authorized without polkit; the path does
        # not exist, so nothing can be formatted.
        missing = "/nonexistent-dmremapctl-agent-test"
        rc, out, pid = on_pty(["create", missing], uid=0, DMREMAPCTL_BACKEND="bus")
        self.assertEqual(self.registrations(), [])
        self.assertEqual(self.interaction_flags(), [])
        self.assertEqual((rc, out), (3, "dmremapctl create: %s: No such file or directory\n" % missing))

    def test_no_agent_for_reading(self):
        # list reads the daemon's objects: nothing polkit decides on.
        rc, out, pid = on_pty(["list"])
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.calls(), [])


if __name__ == "__main__":
    import testmain
    sys.exit(testmain.main())
