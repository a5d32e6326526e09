// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Benchmark helper (tests/vm/bench/daemon.py): GetManagedObjects of
 * dm-remapd, CALLS times one after the other over one connection to the
 * bus at $DBUS_SYSTEM_BUS_ADDRESS, printing each call's latency in
 * nanoseconds. The reply is received whole and never decoded: the figure
 * is the daemon's and the bus's, not a client library's (dbus-python
 * spent twice the daemon's time turning a reply of 100 devices into
 * Python objects).
 *
 *   bench-gmo CALLS
 */
#include <systemd/sd-bus.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

int main(int argc, char **argv)
{
    const int calls = argc == 2 ? std::atoi(argv[1]) : 0;
    if (calls <= 0) {
        std::fprintf(stderr, "usage: bench-gmo CALLS\n");
        return 2;
    }
    sd_bus *bus = nullptr;
    int r = sd_bus_open_system(&bus);
    if (r < 0) {
        std::fprintf(stderr, "bench-gmo: cannot connect to the system bus: %s\n", std::strerror(-r));
        return 1;
    }
    for (int i = 0; i < calls; i++) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = nullptr;
        timespec t0{}, t1{};
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = sd_bus_call_method(bus, "org.dmremap1", "/org/dmremap1", "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects", &error, &reply, "");
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (r < 0) {
            std::fprintf(stderr, "bench-gmo: GetManagedObjects: %s\n", error.message ? error.message : std::strerror(-r));
            return 1;
        }
        sd_bus_message_unref(reply);
        std::printf("%lld\n", (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
    }
    sd_bus_unref(bus);
    return 0;
}
