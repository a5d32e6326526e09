// SPDX-License-Identifier: GPL-2.0-or-later
#include "direct_backend.hpp"
#ifdef DMREMAP_WITH_DBUS
#include "bus_backend.hpp"
#endif

#include <algorithm>
#include <ctime>
#include <atomic>
#include <csignal>

namespace dmremap::cli {

std::vector<std::string> DirectBackend::names()
{
    auto n = RemapDevice::names();
    std::sort(n.begin(), n.end());
    return n;
}

DeviceStatus DirectBackend::status(const std::string &name) { return RemapDevice(name).status(); }
std::vector<SpareStat> DirectBackend::spares(const std::string &name) { return RemapDevice(name).spares(); }

DeviceHealth DirectBackend::health(const std::string &name, bool smart)
{
    return update_health(name, {"", smart}, std::time(nullptr));
}

void DirectBackend::notify_changed(const std::string &name)
{
#ifdef DMREMAP_WITH_DBUS
    notify_daemon(name);
#else
    (void)name;
#endif
}

void DirectBackend::for_each_remap(const std::string &name, const std::function<bool(const RemapEntryInfo &)> &fn)
{
    RemapDevice(name).for_each_remap(fn);
}

CreateResult DirectBackend::create(const std::vector<std::string> &paths, const FormatOptions &opts, bool force)
{
    return SetManager::create(paths, opts, force);
}

AssembledSet DirectBackend::assemble(const std::vector<std::string> &members, const AssembleOptions &opts)
{
    return SetManager::assemble(members, opts);
}

AssembledSet DirectBackend::assemble(const Uuid &set_uuid, const AssembleOptions &opts)
{
    return SetManager::assemble(set_uuid, opts);
}

std::vector<AssembleAllResult> DirectBackend::assemble_all(const AssembleOptions &opts)
{
    return SetManager::assemble_all(opts);
}

void DirectBackend::stop(const std::string &name) { RemapDevice(name).stop(); }
std::vector<FoundMember> DirectBackend::members() { return Discovery::members(); }

SpareAdded DirectBackend::spare_add(const std::string &name, const std::string &dev, const SpareAddOptions &opts)
{
    return RemapDevice(name).spare_add(dev, opts);
}

SpareRemoved DirectBackend::spare_remove(const std::string &name, const std::string &dev, bool evacuate,
                                         const RemapDevice::Progress &progress)
{
    return RemapDevice(name).spare_remove(dev, evacuate, progress);
}

bool DirectBackend::remap(const std::string &name, std::uint64_t block) { return RemapDevice(name).remap(block); }

namespace {

std::atomic<bool> scan_cancel{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

extern "C" void on_stop_signal(int) { scan_cancel.store(true); }

// SIGINT and SIGTERM stop the scan between two reads (resumably) while it
// runs; the old dispositions come back after.
class StopSignals {
public:
    StopSignals()
    {
        struct sigaction sa = {};
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        ::sigaction(SIGINT, &sa, &old_int_);
        ::sigaction(SIGTERM, &sa, &old_term_);
    }
    ~StopSignals()
    {
        ::sigaction(SIGINT, &old_int_, nullptr);
        ::sigaction(SIGTERM, &old_term_, nullptr);
    }
    StopSignals(const StopSignals &) = delete;
    StopSignals &operator=(const StopSignals &) = delete;

private:
    struct sigaction old_int_ = {}, old_term_ = {};
};

} // namespace

ScanOutcome DirectBackend::scan(const std::string &name, const ScanOptions &opts, const Scanner::Progress &progress)
{
    Scanner scanner(name, opts);
    scan_cancel.store(false);
    StopSignals signals;
    return scanner.run(progress, scan_cancel);
}

std::vector<std::uint64_t> DirectBackend::rewrite_pending(const std::string &name, bool include_lost)
{
    return dmremap::rewrite_pending(name, include_lost);
}

} // namespace dmremap::cli
