#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""One D-Bus call to org.dmremap1, printed as JSON: {"result": ...} or
{"error": NAME, "message": TEXT}. The D-Bus test runs it as another user
(setpriv) to see what an unprivileged caller gets.

Usage: dbus_call.py ADDRESS PATH INTERFACE METHOD SIGNATURE JSON-ARGS
In JSON-ARGS, {"$u": N} and {"$t": N} are a uint32 and a uint64 (JSON
numbers alone become int32 in a variant).
"""
import json
import sys

import dbus


def plain(v):
    if isinstance(v, (dict, dbus.Dictionary)):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, dbus.Array, dbus.Struct)):
        return [plain(x) for x in v]
    if isinstance(v, dbus.Boolean):
        return bool(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    return str(v)


TYPED = {"$u": dbus.UInt32, "$t": dbus.UInt64}


def typed(v):
    if isinstance(v, dict) and len(v) == 1 and next(iter(v)) in TYPED:
        return TYPED[next(iter(v))](next(iter(v.values())))
    if isinstance(v, dict):
        return {k: typed(x) for k, x in v.items()}
    if isinstance(v, list):
        return [typed(x) for x in v]
    return v


def main():
    address, path, iface, method, sig, args = sys.argv[1:7]
    bus = dbus.bus.BusConnection(address)
    obj = bus.get_object("org.dmremap1", path, introspect=False)
    try:
        r = obj.get_dbus_method(method, iface)(*typed(json.loads(args)), signature=sig, timeout=120)
        print(json.dumps({"result": plain(r)}))
    except dbus.DBusException as e:
        print(json.dumps({"error": e.get_dbus_name(), "message": e.get_dbus_message()}))


if __name__ == "__main__":
    main()
