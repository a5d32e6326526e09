// SPDX-License-Identifier: LGPL-2.1-or-later
// One member's metadata area: two snapshot slots and a journal ring, once or
// (DMR_INCOMPAT_MD_MIRROR) in two identical copies. Reading reconstructs the
// newest fully valid state on this member by the loading rules of
// docs/FORMAT.md §5 and reports every damaged structure; writing follows the
// commit protocol of §4 (never overwrite the only valid copy of the state).
#pragma once

#include "block_io.hpp"
#include "remap_state.hpp"
#include "report.hpp"
#include "types.hpp"

#include <map>
#include <optional>
#include <set>

namespace dmremap {

struct MemberLoad {
    // Newest valid state on this member; with `refused`, only the part of the
    // history this member can prove, which must not be used on its own.
    std::optional<RemapState> state;
    int slot = -1;                   // slot its snapshot came from
    std::uint64_t snapshot_seq = 0;
    std::uint64_t replayed = 0;      // journal records applied on top
    std::uint64_t max_seq_seen = 0;  // highest seq of any valid structure of this set
    // The history goes on past `state` but cannot be proven complete here: a
    // record that no copy can supply (journal-unreadable) or valid records
    // beyond a hole (journal-orphan). Another member may still hold it; the
    // checker judges the set (docs/FORMAT.md §5).
    bool refused = false;
    std::map<std::uint64_t, std::uint64_t> records; // seq -> generation of every valid journal record
    std::set<std::uint32_t> unreadable_journal;     // journal blocks no copy can supply
    Report report;
};

class MetadataArea {
public:
    // sb must have passed validator::superblock.
    MetadataArea(BlockIo &io, const Superblock &sb, std::string where);

    // With `generation`, snapshots of any other generation do not count
    // (left by a membership change that did not commit, or superseded).
    MemberLoad load(std::optional<std::uint64_t> generation = std::nullopt);

    // Every write goes to each copy of the metadata area in turn.
    // Writes a snapshot of `st` into `slot` (the one not holding the newest
    // valid snapshot): entries and member table, flush, header, flush.
    void write_snapshot(const RemapState &st, unsigned slot);
    // Writes one commit record at its ring position and flushes.
    void append(const JournalRecord &rec);
    void clear_journal();
    void write_superblocks(const Superblock &sb); // copy 0, flush, copy 1, flush

private:
    struct SlotCandidate {
        std::optional<RemapState> state;
        std::optional<std::uint64_t> seq; // header of this set and generation
        std::vector<std::uint64_t> borrowed;
        bool empty = false;
        Report report;
    };

    SlotCandidate read_slot_copy(unsigned slot, unsigned copy, std::optional<std::uint64_t> generation);
    std::optional<RemapState> read_slot(unsigned slot, Report &r, std::uint64_t &max_seq,
                                        std::optional<std::uint64_t> generation);
    void scan_journal(MemberLoad &out, std::map<std::uint64_t, JournalRecord> &records);
    void replay(MemberLoad &out, const std::map<std::uint64_t, JournalRecord> &records);
    void check_end(MemberLoad &out, const std::map<std::uint64_t, JournalRecord> &records);
    std::string block_desc(std::uint64_t offset0) const;
    void copy_warning(Report &r, const std::string &w, unsigned copy, std::uint64_t offset0) const;

    BlockIo &io_;
    Superblock sb_;
    std::string where_;
};

} // namespace dmremap
