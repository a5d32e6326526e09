// SPDX-License-Identifier: GPL-2.0-or-later
// The commands on active devices through libbd_remap in this process:
// needs root (device-mapper, block devices).
#pragma once

#include "backend.hpp"

namespace dmremap::cli {

class DirectBackend final : public Backend {
public:
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
};

} // namespace dmremap::cli
