// SPDX-License-Identifier: GPL-2.0-or-later
// dm-remapd: the D-Bus system service for dm-remap (org.dmremap1).
#include "daemon.hpp"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <pthread.h>
#include <thread>

int main(int argc, char **argv)
{
    if (argc > 1) {
        const std::string arg = argv[1];
        if (arg == "--version") {
            std::cout << "dm-remapd " << DMREMAP_VERSION << "\n";
            return 0;
        }
        std::cerr << "Usage: dm-remapd [--version]\n\nThe dm-remap D-Bus service (org.dmremap1); started by D-Bus "
                     "activation through systemd.\n";
        return arg == "--help" || arg == "-h" ? 0 : 2;
    }
    // Blocked before any thread starts, so every thread inherits the mask
    // and only the waiter below ever sees these signals.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    // A client that disconnects mid-reply must not kill us.
    std::signal(SIGPIPE, SIG_IGN);

    try {
        dmremap::daemon::Daemon daemon;
        std::thread waiter([&] {
            int sig = 0;
            sigwait(&stop_signals, &sig);
            try {
                daemon.stop();
            } catch (...) {
                std::_Exit(1); // an exception here would end in std::terminate
            }
        });
        std::cerr << "dm-remapd " << DMREMAP_VERSION << ": serving org.dmremap1\n";
        int rc = 0;
        try {
            daemon.run();
        } catch (const sdbus::Error &e) {
            std::cerr << "dm-remapd: bus: " << e.getName() << ": " << e.getMessage() << "\n";
            rc = 1;
        } catch (const std::exception &e) {
            // Anything else must still reach the join below: a joinable
            // thread destroyed during unwinding terminates the process.
            std::cerr << "dm-remapd: " << e.what() << "\n";
            rc = 1;
        }
        // The loop also ends when the bus goes away: wake the waiter.
        pthread_kill(waiter.native_handle(), SIGTERM);
        waiter.join();
        return rc;
    } catch (const sdbus::Error &e) {
        std::cerr << "dm-remapd: " << e.getName() << ": " << e.getMessage() << "\n";
    } catch (const std::exception &e) {
        std::cerr << "dm-remapd: " << e.what() << "\n";
    }
    return 1;
}
