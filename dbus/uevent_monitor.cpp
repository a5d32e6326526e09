// SPDX-License-Identifier: GPL-2.0-or-later
#include "uevent_monitor.hpp"

#include <discovery.hpp>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <libudev.h>
#include <memory>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace dmremap::daemon {
namespace {

struct UdevDeleter {
    void operator()(udev *u) const { udev_unref(u); }
    void operator()(udev_monitor *m) const { udev_monitor_unref(m); }
    void operator()(udev_device *d) const { udev_device_unref(d); }
};
template <typename T> using UdevPtr = std::unique_ptr<T, UdevDeleter>;

} // namespace

struct UeventMonitor::Udev {
    UdevPtr<udev> context;
    UdevPtr<udev_monitor> monitor;
};

UeventMonitor::UeventMonitor(std::function<void(const std::string &)> changed)
    : changed_(std::move(changed)), udev_(std::make_unique<Udev>())
{
    // After udevd has processed an event its properties (DM_NAME) are
    // complete; without udevd (containers, early boot) take the kernel's.
    const char *source = dmremap::Discovery::udev_running() ? "udev" : "kernel";
    udev_->context.reset(udev_new());
    if (udev_->context)
        udev_->monitor.reset(udev_monitor_new_from_netlink(udev_->context.get(), source));
    if (!udev_->monitor ||
        udev_monitor_filter_add_match_subsystem_devtype(udev_->monitor.get(), "block", "disk") < 0 ||
        udev_monitor_enable_receiving(udev_->monitor.get()) < 0) {
        std::cerr << "dm-remapd: cannot listen to " << source
                  << " events; device properties follow only the daemon's own changes\n";
        return;
    }
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) {
        std::cerr << "dm-remapd: eventfd: " << std::strerror(errno) << "; not following kernel events\n";
        return;
    }
    thread_ = std::thread([this] { run(); });
}

UeventMonitor::~UeventMonitor()
{
    if (stop_fd_ >= 0) {
        const std::uint64_t one = 1;
        (void)!::write(stop_fd_, &one, sizeof one);
    }
    if (thread_.joinable())
        thread_.join();
    if (stop_fd_ >= 0)
        ::close(stop_fd_);
}

void UeventMonitor::run()
{
    udev_monitor *mon = udev_->monitor.get();
    pollfd fds[2] = {{udev_monitor_get_fd(mon), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    for (;;) {
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            std::cerr << "dm-remapd: poll: " << std::strerror(errno) << "; not following kernel events\n";
            return;
        }
        if (fds[1].revents)
            return;
        if (!(fds[0].revents & POLLIN))
            continue;
        errno = 0;
        UdevPtr<udev_device> d(udev_monitor_receive_device(mon));
        if (!d) {
            // The socket overflowed (a burst of events, e.g. many devices
            // at boot): some were lost, and with them which devices
            // changed. Re-read them all.
            if (errno == ENOBUFS) {
                std::cerr << "dm-remapd: events were lost (uevent socket overflowed); re-reading every device\n";
                notify("");
            }
            continue;
        }
        const char *sysname = udev_device_get_sysname(d.get());
        if (!sysname)
            continue;
        if (std::strncmp(sysname, "dm-", 3) != 0) {
            // A disk gone may be a member: its device now reports it
            // (RemapDevice::status). Removals are rare; re-read them all.
            const char *action = udev_device_get_action(d.get());
            if (action && std::strcmp(action, "remove") == 0)
                notify("");
            continue;
        }
        const char *name = udev_device_get_property_value(d.get(), "DM_NAME");
        notify(name ? name : "");
    }
}

void UeventMonitor::notify(const std::string &name) noexcept
{
    try {
        changed_(name);
    } catch (const std::exception &e) {
        std::cerr << "dm-remapd: handling a uevent: " << e.what() << "\n";
    } catch (...) {
        std::cerr << "dm-remapd: handling a uevent: internal error\n";
    }
}

} // namespace dmremap::daemon
