// SPDX-License-Identifier: GPL-2.0-or-later
// What the commands on active devices need, done either directly through
// libbd_remap (root) or by dm-remapd over D-Bus (everyone else, so that
// polkit decides). Both return the library's own structs, so a command
// prints the same output whichever did the work.
#pragma once

#include <discovery.hpp>
#include <health_monitor.hpp>
#include <remap_device.hpp>
#include <replacer.hpp>
#include <scan_schedule.hpp>
#include <scanner.hpp>
#include <set_manager.hpp>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace dmremap::cli {

// dm-remapd could not be asked at all (no system bus, daemon not running
// and not activatable). main.cpp prints it without the command's prefix.
class BusUnreachable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// polkit or the bus policy refused the caller: exit status 5. The library
// has no such code; only the way through dm-remapd knows this refusal.
class NotAuthorized : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Backend {
public:
    virtual ~Backend() = default;

    // Active dm-remap devices, sorted by name.
    virtual std::vector<std::string> names() = 0;
    virtual DeviceStatus status(const std::string &name) = 0;
    virtual std::vector<SpareStat> spares(const std::string &name) = 0;
    // The health model's view of a device; `smart`: run smartctl (root only).
    virtual DeviceHealth health(const std::string &name, bool smart) = 0;
    // State files of `name` changed behind dm-remapd (a direct scan, a
    // health update): let it look again, if it runs. Never throws.
    virtual void notify_changed(const std::string &name) = 0;
    // Every remap table entry in block order; `fn` returns false to stop.
    virtual void for_each_remap(const std::string &name, const std::function<bool(const RemapEntryInfo &)> &fn) = 0;

    // `scan_schedule`: also enable dm-remap-scan@NAME.timer with it (checked
    // before anything is written; validated by the caller).
    virtual CreateResult create(const std::vector<std::string> &paths, const FormatOptions &opts, bool force,
                                const std::optional<ScanScheduleSpec> &scan_schedule) = 0;
    virtual AssembledSet assemble(const std::vector<std::string> &members, const AssembleOptions &opts) = 0;
    virtual AssembledSet assemble(const Uuid &set_uuid, const AssembleOptions &opts) = 0;
    virtual std::vector<AssembleAllResult> assemble_all(const AssembleOptions &opts) = 0;
    virtual void stop(const std::string &name) = 0;
    virtual std::vector<FoundMember> members() = 0;

    virtual SpareAdded spare_add(const std::string &name, const std::string &dev, const SpareAddOptions &opts) = 0;
    virtual SpareRemoved spare_remove(const std::string &name, const std::string &dev, bool evacuate,
                                      const RemapDevice::Progress &progress) = 0;
    virtual bool remap(const std::string &name, std::uint64_t block) = 0;

    // A media scan of the device (Scanner): runs until the pass ends, the
    // limit, or SIGINT/SIGTERM (which stop it resumably: outcome.canceled).
    virtual ScanOutcome scan(const std::string &name, const ScanOptions &opts, const Scanner::Progress &progress) = 0;
    // Zeros over the pending blocks (rewrite_pending); the blocks written.
    virtual std::vector<std::uint64_t> rewrite_pending(const std::string &name, bool include_lost) = 0;
    // Enables the scan timer of `name` with `spec`, or disables it (ScanSchedule::apply).
    virtual void set_scan_schedule(const std::string &name, const ScanScheduleSpec &spec) = 0;
    // Moves `name` to a new data disk while it stays in use (Replacer);
    // SIGINT/SIGTERM stop it, and the old disk runs on.
    virtual ReplaceResult replace(const std::string &name, const std::string &new_device, const ReplaceOptions &opts,
                                  const Replacer::Progress &progress) = 0;
    // Goes on with a replace a power cut stopped (Replacer::resume).
    virtual std::optional<ReplaceResult> replace_resume(const Uuid &set, std::chrono::seconds wait,
                                                        const Replacer::Progress &progress) = 0;
};

// Root acts directly, everyone else through dm-remapd; the environment
// variable DMREMAPCTL_BACKEND (direct or bus) overrides that.
std::unique_ptr<Backend> make_backend(const std::string &command);

} // namespace dmremap::cli
