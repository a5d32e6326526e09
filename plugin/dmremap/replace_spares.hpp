// SPDX-License-Identifier: LGPL-2.1-or-later
// The spares a replace gives the new set (ReplaceOptions::keep_spares and
// ::spares): checked before anything is written, added once the new set
// runs. Until the switch the old set needs its spares whole (they hold its
// remapped blocks), so nothing moves before it.
#pragma once

#include "file_io.hpp"
#include "replacer.hpp"
#include "types.hpp"

#include <memory>
#include <string>
#include <vector>

namespace dmremap {

class ReplaceSpares {
public:
    // `old_members`: the running set's nodes, data member first; `sb` its
    // data member's superblock. Throws, naming the device, for a new spare
    // that is missing, in use, a member of a
    // set or holds a signature, too small, given twice or the new disk
    // itself. Old spares that failed, are missing or are not what the old
    // set recorded (an image's loop device) are reported by add(), not kept.
    ReplaceSpares(const std::string &name, const std::vector<std::string> &old_members, const Superblock &sb,
                  const std::string &new_device, const ReplaceOptions &opts);
    ~ReplaceSpares();

    // Right before the old set's device goes: holds the old spares open, so
    // that an image spare's loop device (autoclear) outlives it.
    void hold_old();
    // Once the new set runs and the old set's device is gone: the kept
    // spares lose their old superblocks and join, then the new ones.
    // Never throws: what could not be added lands in r.spare_errors.
    void add(const std::string &name, ReplaceResult &r) noexcept;
    bool empty() const { return kept_.empty() && fresh_.empty() && skipped_.empty(); }

private:
    struct Kept {
        std::string node, image;
        std::unique_ptr<FileIo> hold;
    };
    void keep(const std::vector<std::string> &old_members);

    std::vector<Kept> kept_;
    std::vector<std::string> skipped_; // old spares not kept, and why
    std::vector<std::string> fresh_;
};

} // namespace dmremap
