// SPDX-License-Identifier: LGPL-2.1-or-later
// The commit protocol of docs/FORMAT.md, in userspace: append one journal
// record per commit to every member, compact into the slot that does not
// hold the newest snapshot before the ring would overwrite a record that
// no durable snapshot covers. The kernel target implements the same rules;
// this is their reference and what the crash-replay unit tests exercise.
#pragma once

#include "block_io.hpp"
#include "remap_state.hpp"
#include "types.hpp"

#include <vector>

namespace dmremap {

struct WriterMember {
    BlockIo *io;
    Superblock sb;
};

class SetWriter {
public:
    // `newest_slot`: slot holding the newest snapshot (as MemberLoad::slot);
    // `snapshot_seq`: its seq. All members must hold `state`.
    SetWriter(std::vector<WriterMember> members, RemapState state, int newest_slot, std::uint64_t snapshot_seq);

    // One durable commit of at most 252 updates; returns its seq. On return
    // every member has the record on stable storage.
    std::uint64_t commit(const std::vector<Entry> &updates);
    // Writes a snapshot of the current state into the other slot on every member.
    void compact();

    const RemapState &state() const { return state_; }

private:
    std::vector<WriterMember> members_;
    RemapState state_;
    int newest_slot_;
    std::uint64_t snapshot_seq_;
};

} // namespace dmremap
