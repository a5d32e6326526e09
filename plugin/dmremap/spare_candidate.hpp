// SPDX-License-Identifier: LGPL-2.1-or-later
// Everything that must hold before a block device becomes a spare, checked
// while it is held open exclusively so nothing can claim it between the
// checks, the wipe and the kernel's own open.
#pragma once

#include "file_io.hpp"
#include "types.hpp"

#include <memory>
#include <string>
#include <sys/types.h>

namespace dmremap {

class SpareCandidate {
public:
    // `set` is the data member's superblock, `self` the mapped device of the
    // set. Throws Error naming the device: Exists (a member of this set; of
    // another set or carrying a signature, unless `force`), Busy (mounted,
    // held, a partition in use, opened exclusively), InvalidArgument (stacked
    // on the set itself, logical block size above the set's), NoSpace (too
    // small for the metadata and 1 MiB of spare blocks).
    SpareCandidate(const std::string &dev, const Superblock &set, dev_t self, bool force);
    ~SpareCandidate();

    // With `force`, erases signatures and an old member's superblocks.
    void prepare();
    // Lets go right before the kernel opens the device.
    void release();

private:
    std::string dev_;
    bool force_;
    bool old_member_ = false;
    std::unique_ptr<FileIo> hold_;
};

} // namespace dmremap
