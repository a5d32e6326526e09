// SPDX-License-Identifier: GPL-2.0-or-later
// Kernel events for device-mapper devices, from libudev: add and remove
// (devices made or stopped behind the daemon's back, by dmsetup or
// dmremapctl) and change (the target sends one with DM_REMAP_EVENT=1 on
// every metadata commit). The daemon follows the kernel instead of polling.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace dmremap::daemon {

class UeventMonitor {
public:
    // Receiving starts before the constructor returns, so nothing that
    // happens afterwards is missed. `changed` gets the device-mapper name,
    // or "" when the event does not carry one (then every device is worth a
    // look). It runs on the monitor's own thread: it must only queue work.
    explicit UeventMonitor(std::function<void(const std::string &)> changed);
    ~UeventMonitor();
    UeventMonitor(const UeventMonitor &) = delete;
    UeventMonitor &operator=(const UeventMonitor &) = delete;

private:
    struct Udev;
    void run();
    void notify(const std::string &name) noexcept;

    std::function<void(const std::string &)> changed_;
    std::unique_ptr<Udev> udev_; // used by the monitor thread only, once it runs
    int stop_fd_ = -1;
    std::thread thread_;
};

} // namespace dmremap::daemon
