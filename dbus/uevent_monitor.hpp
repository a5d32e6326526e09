// SPDX-License-Identifier: GPL-2.0-or-later
// Kernel events for device-mapper devices, from libudev: add and remove
// (devices made or stopped behind the daemon's back, by dmsetup or
// dmremapctl) and change (the target sends one with DM_REMAP_EVENT=1 on
// every metadata commit). The daemon follows the kernel instead of polling.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace dmremap::daemon {

class UeventMonitor {
public:
    // `changed` gets the device-mapper name, or "" when the event does not
    // carry one (then every device is worth a look). Runs on the monitor's
    // own thread: it must only queue work.
    explicit UeventMonitor(std::function<void(const std::string &)> changed);
    ~UeventMonitor();
    UeventMonitor(const UeventMonitor &) = delete;
    UeventMonitor &operator=(const UeventMonitor &) = delete;

private:
    void run();

    std::function<void(const std::string &)> changed_;
    int stop_fd_ = -1;
    std::thread thread_;
};

} // namespace dmremap::daemon
