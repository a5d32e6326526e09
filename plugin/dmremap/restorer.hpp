// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include "block_io.hpp"
#include "set_json.hpp"

#include <vector>

namespace dmremap {

struct RestoreResult {
    std::uint64_t seq = 0;                 // commit number written
    std::vector<std::uint16_t> indexes;    // member index written to each device
};

class Restorer {
public:
    // Writes superblocks and a snapshot of `d` to each device. A device whose
    // valid superblock names a member of the set is matched by member UUID;
    // others are taken in member-index order. The snapshot's seq is above
    // every seq found on the devices, so no stale journal record can ever be
    // replayed on top of it. A device of another set is refused unless force.
    static RestoreResult restore(const SetDescription &d, const std::vector<BlockIo *> &devices, bool force);
};

} // namespace dmremap
