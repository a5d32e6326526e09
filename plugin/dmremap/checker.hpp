// SPDX-License-Identifier: LGPL-2.1-or-later
// Reads a set's members as they are on disk, picks the newest fully valid
// state across every copy on every member, and reports every problem found.
#pragma once

#include "block_io.hpp"
#include "metadata_area.hpp"
#include "remap_state.hpp"
#include "report.hpp"
#include "types.hpp"

#include <array>
#include <optional>
#include <vector>

namespace dmremap {

struct MemberView {
    std::string path;
    std::uint64_t device_sectors = 0;
    std::array<bool, 2> copy_valid{};
    std::optional<Superblock> sb; // newest valid superblock copy
    std::optional<MemberLoad> load;
};

struct SetView {
    std::vector<MemberView> members;
    std::optional<RemapState> state; // newest fully valid state
    std::optional<Superblock> sb;    // superblock of the member the state came from
    std::size_t source = 0;          // index into members of that member
    Report report;
};

class Checker {
public:
    // Reads only the two superblock copies (8 KiB) and picks the newest valid one.
    static MemberView read_superblocks(BlockIo &io, Report &report);
    // Everything: superblocks and metadata of every member, cross-checked.
    SetView run(const std::vector<BlockIo *> &members);

private:
    void cross_check(SetView &v);
    bool history_complete(SetView &v, const Superblock &rs);
    static void report_failed(SetView &v, const Member &rec, const std::string &path);
};

} // namespace dmremap
