// SPDX-License-Identifier: GPL-2.0-or-later
// The commands on active devices through dm-remapd (org.dmremap1 on the
// system bus), with the proxies generated from dbus/*.xml. The daemon's
// answers are put back into the library's structs; its errors back into
// dmremap::Error with the same code and message the library would have
// thrown here, so the output does not depend on the way taken.
#pragma once

#include "backend.hpp"
#include "polkit_agent.hpp"

#include <map>
#include <memory>

#include <sdbus-c++/sdbus-c++.h>

namespace dmremap::cli {

// Asks a running dm-remapd to read `name` again (its state files changed
// behind it); starts no daemon, waits at most a few seconds, never throws.
void notify_daemon(const std::string &name) noexcept;

// For the files that implement BusBackend (bus_backend.cpp defines them):
// the daemon's error as the library's (`device`: the name a call on a
// Device object was about), and a path as the daemon must get it (it does
// not share our working directory).
[[noreturn]] void rethrow_daemon_error(const sdbus::Error &e, const std::string &device = "");
std::string absolute_path(const std::string &path);

class BusBackend final : public Backend {
public:
    BusBackend();
    ~BusBackend() override;

    std::vector<std::string> names() override;
    DeviceStatus status(const std::string &name) override;
    std::vector<SpareStat> spares(const std::string &name) override;
    DeviceHealth health(const std::string &name, bool smart) override;
    void notify_changed(const std::string &name) override;
    void for_each_remap(const std::string &name, const std::function<bool(const RemapEntryInfo &)> &fn) override;

    CreateResult create(const std::vector<std::string> &paths, const FormatOptions &opts, bool force,
                        const std::optional<ScanScheduleSpec> &scan_schedule) override;
    AssembledSet assemble(const std::vector<std::string> &members, const AssembleOptions &opts) override;
    AssembledSet assemble(const Uuid &set_uuid, const AssembleOptions &opts) override;
    std::vector<AssembleAllResult> assemble_all(const AssembleOptions &opts) override;
    void stop(const std::string &name) override;
    std::vector<FoundMember> members() override;

    SpareAdded spare_add(const std::string &name, const std::string &dev, const SpareAddOptions &opts) override;
    SpareRemoved spare_remove(const std::string &name, const std::string &dev, bool evacuate,
                              const RemapDevice::Progress &progress) override;
    bool remap(const std::string &name, std::uint64_t block) override;
    ScanOutcome scan(const std::string &name, const ScanOptions &opts, const Scanner::Progress &progress) override;
    std::vector<std::uint64_t> rewrite_pending(const std::string &name, bool include_lost) override;
    void set_scan_schedule(const std::string &name, const ScanScheduleSpec &spec) override;
    ReplaceResult replace(const std::string &name, const std::string &new_device, const ReplaceOptions &opts,
                          const Replacer::Progress &progress) override;
    std::optional<ReplaceResult> replace_resume(const Uuid &set, std::chrono::seconds wait,
                                                const Replacer::Progress &progress) override;

private:
    using Dict = std::map<std::string, sdbus::Variant>;
    using Objects = std::map<sdbus::ObjectPath, std::map<std::string, Dict>>;

    sdbus::IConnection &bus();
    Objects objects();
    // The Device object's path and properties; the library's NotFound or
    // InvalidArgument when there is none.
    std::pair<std::string, Dict> device(const std::string &name);
    // The Device properties after the daemon read the device again.
    Dict fresh(const std::string &name);
    // Options every call carries: polkit may ask for a password only when
    // someone is at a terminal to type it (then with our own text agent).
    Dict options();
    AssembledSet assemble_with(const std::vector<std::string> &members, Dict opts);

    std::unique_ptr<sdbus::IConnection> bus_;
    PolkitAgent agent_;
};

} // namespace dmremap::cli
