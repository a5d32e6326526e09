// SPDX-License-Identifier: GPL-2.0-or-later
// dm-remapd: the D-Bus system service for dm-remap (org.dmremap1).
#include "daemon.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <iostream>
#include <pthread.h>
#include <thread>

namespace {

// Long enough for a slow USB disk to format a set's metadata; a device that
// takes longer is taken for hung.
constexpr unsigned kDefaultIoTimeout = 60;
// prometheus-node-exporter's textfile directory on Debian and Fedora; used
// only when it exists, so a host without node-exporter gets no file.
constexpr const char *kDefaultMetricsDir = "/var/lib/prometheus/node-exporter";

int usage(int rc)
{
    (rc ? std::cerr : std::cout)
        << "Usage: dm-remapd [--io-timeout=SECONDS] [--metrics-dir=DIR] [--version]\n\n"
           "The dm-remap D-Bus service (org.dmremap1); started by D-Bus activation through systemd.\n\n"
           "  --io-timeout=SECONDS  answer a call TimedOut when a device keeps it longer (default "
        << kDefaultIoTimeout << ", 1..3600)\n"
           "  --metrics-dir=DIR     write the Prometheus textfile dm_remap.prom there (default "
        << kDefaultMetricsDir << " when it exists; empty: none)\n";
    return rc;
}

} // namespace

int main(int argc, char **argv)
{
    unsigned io_timeout = kDefaultIoTimeout;
    std::optional<std::string> metrics_dir;
    for (int i = 1; i < argc; i++) {
        const std::string arg = argv[i];
        if (arg == "--version") {
            std::cout << "dm-remapd " << DMREMAP_VERSION << "\n";
            return 0;
        }
        if (arg == "--help" || arg == "-h")
            return usage(0);
        if (arg.rfind("--io-timeout=", 0) == 0) {
            const std::string v = arg.substr(std::strlen("--io-timeout="));
            char *end = nullptr;
            errno = 0;
            const unsigned long n = std::strtoul(v.c_str(), &end, 10);
            if (v.empty() || *end || errno || v[0] == '-' || n < 1 || n > 3600) {
                std::cerr << "dm-remapd: --io-timeout: '" << v << "' is not a number of seconds from 1 to 3600\n";
                return 2;
            }
            io_timeout = static_cast<unsigned>(n);
            continue;
        }
        if (arg.rfind("--metrics-dir=", 0) == 0) {
            metrics_dir = arg.substr(std::strlen("--metrics-dir="));
            if (!metrics_dir->empty() && (*metrics_dir)[0] != '/') {
                std::cerr << "dm-remapd: --metrics-dir: '" << *metrics_dir << "' is not an absolute path\n";
                return 2;
            }
            continue;
        }
        std::cerr << "dm-remapd: unknown argument '" << arg << "'\n";
        return usage(2);
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
        if (!metrics_dir) {
            std::error_code ec;
            metrics_dir = std::filesystem::is_directory(kDefaultMetricsDir, ec) ? kDefaultMetricsDir : "";
        }
        dmremap::daemon::Daemon daemon{std::chrono::seconds(io_timeout), *metrics_dir};
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
