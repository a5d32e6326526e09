// SPDX-License-Identifier: LGPL-2.1-or-later
// One member's metadata area: two snapshot slots and a journal ring.
// Reading reconstructs the newest fully valid state on this member and
// reports every damaged structure; writing follows the commit protocol
// of docs/FORMAT.md (never overwrite the only valid copy of the state).
#pragma once

#include "block_io.hpp"
#include "remap_state.hpp"
#include "report.hpp"
#include "types.hpp"

#include <optional>

namespace dmremap {

struct MemberLoad {
    std::optional<RemapState> state; // newest fully valid state on this member
    int slot = -1;                   // slot its snapshot came from
    std::uint64_t snapshot_seq = 0;
    std::uint64_t replayed = 0;      // journal records applied on top
    std::uint64_t max_seq_seen = 0;  // highest seq of any valid structure of this set
    Report report;
};

class MetadataArea {
public:
    // sb must have passed validator::superblock.
    MetadataArea(BlockIo &io, const Superblock &sb, std::string where);

    // With `generation`, snapshots of any other generation do not count
    // (left by a membership change that did not commit, or superseded).
    MemberLoad load(std::optional<std::uint64_t> generation = std::nullopt);

    // Writes a snapshot of `st` into `slot` (the one not holding the newest
    // valid snapshot): entries and member table, flush, header, flush.
    void write_snapshot(const RemapState &st, unsigned slot);
    // Writes one commit record at its ring position and flushes.
    void append(const JournalRecord &rec);
    void clear_journal();
    void write_superblocks(const Superblock &sb); // copy 0, flush, copy 1, flush

private:
    std::optional<RemapState> read_slot(unsigned slot, Report &r, std::uint64_t &max_seq,
                                        std::optional<std::uint64_t> generation);
    void replay(MemberLoad &out);

    BlockIo &io_;
    Superblock sb_;
    std::string where_;
};

} // namespace dmremap
