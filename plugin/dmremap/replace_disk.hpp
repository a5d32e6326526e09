// SPDX-License-Identifier: LGPL-2.1-or-later
// The new disk of a replace: checked, formatted as the set's new data
// member (marked REPLACING, so nothing assembles it), given the set's
// state at the switch, and the commit point itself (docs/REPLACE.md).
#pragma once

#include "dm_control.hpp"
#include "formatter.hpp"
#include "replacer.hpp"
#include "types.hpp"

#include <string>
#include <vector>

namespace dmremap {

class ReplaceDisk {
public:
    // Every refusal of Replacer::replace about the disk; writes nothing.
    // `old_members`: the running set's device nodes, data member first.
    ReplaceDisk(const std::string &name, const std::vector<std::string> &old_members, std::string path,
                const ReplaceOptions &opts);

    // Writes the new set: the old one's UUID, name, block size, metadata
    // capacity and data length, its own internal spare, flag REPLACING.
    void format();
    // The set's state for the new disk, written while /dev/mapper/NAME is
    // suspended with both disks in sync: `pending` blocks pending (lost:
    // the new disk never held their data, so a read must not heal them),
    // the generation above the old disk's. Still REPLACING.
    void write_state(const std::vector<std::uint64_t> &pending);
    // The new set's table line (read from the disk, as assembly would).
    DmTarget table() const;
    // The commit point is the old data member taking REPLACED (throws only
    // before it); then the new disk drops REPLACING and the old spares take
    // REPLACED. uncommit() undoes them, for a switch that failed.
    void commit();
    void uncommit();
    // Asks udev to probe the disks again, once the flags are final.
    void tell_udev() const noexcept;
    // Erases the new disk's superblocks after a replace that did not
    // commit; never throws (the disk may be the reason it stopped).
    void abandon() noexcept;

    const std::string &path() const { return path_; }
    const std::string &old_device() const { return old_device_; }
    const Superblock &old_superblock() const { return old_sb_; }
    const Uuid &set_uuid() const { return old_sb_.set_uuid; }
    std::uint64_t data_offset() const { return plan_.superblocks.at(0).data_offset; }

private:
    std::string path_, old_device_;
    std::vector<std::string> old_members_; // data member first
    Superblock old_sb_;
    FormatOptions fopts_;
    FormatPlan plan_;
    bool formatted_ = false;
};

// Assembly's end of a switch cut short by a power cut: the new data member
// drops REPLACING once the old one says REPLACED.
void clear_replacing(const std::string &path, const Uuid &set);

} // namespace dmremap
