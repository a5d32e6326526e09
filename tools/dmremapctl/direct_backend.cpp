// SPDX-License-Identifier: GPL-2.0-or-later
#include "direct_backend.hpp"

#include "stop_signals.hpp"
#ifdef DMREMAP_WITH_DBUS
#include "bus_backend.hpp"
#endif

#include <algorithm>
#include <ctime>

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

CreateResult DirectBackend::create(const std::vector<std::string> &paths, const FormatOptions &opts, bool force,
                                   const std::optional<ScanScheduleSpec> &scan_schedule)
{
    const bool schedule = scan_schedule && !scan_schedule->off;
    if (schedule) // systemd and the unit are there before a disk is written
        ScanSchedule::check_available(opts.name.empty() ? paths.front() : opts.name, opts.name);
    CreateResult r = SetManager::create(paths, opts, force);
    if (schedule)
        ScanSchedule::apply_after_create(r.name, *scan_schedule);
    return r;
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

ScanOutcome DirectBackend::scan(const std::string &name, const ScanOptions &opts, const Scanner::Progress &progress)
{
    Scanner scanner(name, opts);
    const StopSignals signals;
    auto outcome = scanner.run(progress, StopSignals::requested());
    notify_changed(name); // dm-remapd's LastScan and health follow
    return outcome;
}

ReplaceResult DirectBackend::replace(const std::string &name, const std::string &new_device,
                                     const ReplaceOptions &opts, const Replacer::Progress &progress)
{
    const StopSignals signals;
    auto r = Replacer::replace(name, new_device, opts, progress, &StopSignals::requested());
    notify_changed(name); // dm-remapd's members and health follow
    return r;
}

std::optional<ReplaceResult> DirectBackend::replace_resume(const Uuid &set, std::chrono::seconds wait,
                                                           const Replacer::Progress &progress)
{
    const StopSignals signals;
    auto r = Replacer::resume(set, wait, {}, progress, &StopSignals::requested());
    if (r)
        notify_changed(r->name);
    return r;
}

void DirectBackend::set_scan_schedule(const std::string &name, const ScanScheduleSpec &spec)
{
    ScanSchedule(name).apply(spec);
}

std::vector<std::uint64_t> DirectBackend::rewrite_pending(const std::string &name, bool include_lost)
{
    auto written = dmremap::rewrite_pending(name, include_lost);
    notify_changed(name);
    return written;
}

} // namespace dmremap::cli
