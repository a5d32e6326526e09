#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""watch_props.py OBJECT PROPERTY COMMAND...: runs COMMAND while listening
on the system bus for org.dmremap1.Device's PropertiesChanged on OBJECT, and
prints as JSON how long after COMMAND ended the first signal naming
PROPERTY arrived ("after_exit", seconds; negative when it came first),
that signal's changes, and COMMAND's exit code. Exits 1 when no such
signal came within 120 s.

Used by vm-full.sh: a write to a failing block returns once the kernel has
committed the remap, so the time from the write's return to the signal is
the time a client waits to hear of it.
"""
import json
import subprocess
import sys
import threading
import time

import dbus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

from dbus_call import plain


def main():
    path, prop, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
    loop = GLib.MainLoop()
    bus = dbus.SystemBus(mainloop=DBusGMainLoop())
    got = {}
    ran = {}

    def changed(iface, props, _invalidated):
        if iface == "org.dmremap1.Device" and prop in props and "at" not in got:
            got["at"] = time.monotonic()
            got["changed"] = plain(props)
            if "exit" in ran:
                loop.quit()

    bus.add_signal_receiver(changed, signal_name="PropertiesChanged", bus_name="org.dmremap1", path=path,
                            dbus_interface="org.freedesktop.DBus.Properties")
    # The match rule is in place once the bus has answered a call after it.
    bus.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus").GetId(
        dbus_interface="org.freedesktop.DBus")

    def run():
        ran["rc"] = subprocess.run(cmd).returncode
        ran["exit"] = time.monotonic()
        GLib.idle_add(lambda: loop.quit() if "at" in got else None)

    threading.Thread(target=run, daemon=True).start()
    # Far above what vm-full.sh allows: the time is measured and judged
    # there, this only ends a wait for a signal that never comes.
    GLib.timeout_add(120000, loop.quit)
    loop.run()
    if "exit" not in ran:
        print(json.dumps({"error": "command still running after 120 s"}))
        return 1
    if "at" not in got:
        print(json.dumps({"error": "no PropertiesChanged naming %s within 120 s" % prop, "rc": ran["rc"]}))
        return 1
    print(json.dumps({"after_exit": round(got["at"] - ran["exit"], 3), "changed": got["changed"],
                      "rc": ran["rc"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
