// SPDX-License-Identifier: LGPL-2.1-or-later
#include "set_writer.hpp"

#include "error.hpp"
#include "metadata_area.hpp"

#include <dm-remap-format.h>

namespace dmremap {

SetWriter::SetWriter(std::vector<WriterMember> members, RemapState state, int newest_slot,
                     std::uint64_t snapshot_seq)
    : members_(std::move(members)), state_(std::move(state)), newest_slot_(newest_slot),
      snapshot_seq_(snapshot_seq)
{
    if (members_.empty())
        throw Error(Error::Code::InvalidArgument, "a set writer needs at least one member");
}

std::uint64_t SetWriter::commit(const std::vector<Entry> &updates)
{
    if (updates.size() > DMR_JOURNAL_UPDATES)
        throw Error(Error::Code::InvalidArgument, "a commit holds at most 252 updates");
    RemapState next = state_;
    for (const auto &u : updates)
        if (auto why = next.apply(u); !why.empty())
            throw Error(Error::Code::InvalidArgument, "update " + why);
    if (next.size() > members_.front().sb.max_entries)
        throw Error(Error::Code::NoSpace, "metadata is full (" + std::to_string(members_.front().sb.max_entries) +
                                              " entries)");
    const std::uint64_t seq = state_.seq + 1;
    // Record seq lands on the block of seq - journal_blocks; that one must
    // already be inside a durable snapshot.
    if (seq - snapshot_seq_ > members_.front().sb.journal_blocks)
        compact();
    JournalRecord rec;
    rec.set_uuid = state_.set_uuid;
    rec.seq = seq;
    rec.generation = state_.generation;
    rec.updates = updates;
    for (auto &m : members_)
        MetadataArea(*m.io, m.sb, m.io->name()).append(rec);
    next.seq = seq;
    state_ = std::move(next);
    return seq;
}

void SetWriter::compact()
{
    const unsigned slot = newest_slot_ == 0 ? 1 : 0;
    for (auto &m : members_)
        MetadataArea(*m.io, m.sb, m.io->name()).write_snapshot(state_, slot);
    newest_slot_ = static_cast<int>(slot);
    snapshot_seq_ = state_.seq;
}

} // namespace dmremap
