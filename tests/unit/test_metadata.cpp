// SPDX-License-Identifier: GPL-2.0-or-later
// Loading picks the newest fully valid state across copies and members.
#include "helpers.hpp"

#include <dm-remap-format.h>
#include <error.hpp>
#include <metadata_area.hpp>
#include <restorer.hpp>
#include <set_json.hpp>
#include <set_writer.hpp>

#include <gtest/gtest.h>

using namespace dmremap;
using namespace dmremap::test;

namespace {

SetWriter writer(MemSet &s, std::vector<std::size_t> only = {})
{
    std::vector<WriterMember> ms;
    for (std::size_t i = 0; i < s.devs.size(); i++)
        if (only.empty() || std::find(only.begin(), only.end(), i) != only.end())
            ms.push_back({s.devs[i].get(), s.sb(i)});
    return SetWriter(ms, s.plan.state, 0, 1);
}

} // namespace

TEST(Metadata, CommitsReplayFromJournal)
{
    MemSet s = make_set();
    SetWriter w = writer(s);
    w.commit({remapped(10, 0, 0)});
    w.commit({pending(11), remapped(12, 1, 5)});
    w.commit({freed(11), retired(0, 1)});
    SetView v = s.check();
    EXPECT_FALSE(v.report.damaged());
    ASSERT_TRUE(v.state);
    EXPECT_EQ(v.state->seq, 4u);
    EXPECT_EQ(*v.state, w.state());
    EXPECT_EQ(v.members[0].load->replayed, 3u);
    EXPECT_EQ(v.state->find(12)->spare_block, 5u);
    EXPECT_EQ(v.state->find(11), nullptr);
}

TEST(Metadata, RingWrapsThroughManyCompactions)
{
    MemSet s = make_set({16 * MiB, 8 * MiB}, 256, 16);
    SetWriter w = writer(s);
    for (std::uint32_t i = 0; i < 200; i++) {
        w.commit({remapped(i, static_cast<std::uint16_t>(i % 2), i)});
        if (i % 37 == 0) {
            SetView v = s.check();
            ASSERT_FALSE(v.report.damaged()) << "after commit " << i;
            ASSERT_EQ(*v.state, w.state());
        }
    }
    SetView v = s.check();
    EXPECT_FALSE(v.report.damaged());
    EXPECT_EQ(v.state->count(EntryState::Remapped), 200u);
    EXPECT_EQ(*v.state, w.state());
    // A commit's cost is one block per member: the journal never needs more
    // than journal_blocks records past the newest snapshot.
    EXPECT_LE(v.members[0].load->replayed, 16u);
}

TEST(Metadata, CapacityIsEnforced)
{
    MemSet s = make_set({16 * MiB, 8 * MiB}, 256, 16);
    SetWriter w = writer(s);
    for (std::uint64_t i = 0; i < 256; i++)
        w.commit({pending(i)});
    EXPECT_THROW(w.commit({pending(300)}), Error);
    EXPECT_EQ(s.check().state->size(), 256u);
}

TEST(Metadata, StaleMemberIsReported)
{
    MemSet s = make_set();
    SetWriter w = writer(s, {0}); // the spare misses these commits
    w.commit({remapped(1, 0, 0)});
    w.commit({remapped(2, 0, 1)});
    SetView v = s.check();
    ASSERT_TRUE(v.state);
    EXPECT_EQ(v.state->seq, 3u);
    EXPECT_EQ(v.source, 0u);
    EXPECT_TRUE(v.report.has("member-stale"));
    EXPECT_TRUE(v.report.damaged());
}

TEST(Metadata, NewestStateWinsWhenOneMemberIsDestroyed)
{
    MemSet s = make_set();
    SetWriter w = writer(s);
    for (std::uint32_t i = 0; i < 40; i++) // past one compaction
        w.commit({remapped(i, 1, i)});
    // Wipe the data member's whole metadata area.
    const auto &sb = s.sb(0);
    std::fill(s.devs[0]->bytes().begin() + static_cast<long>(sb.md_offset * 512),
              s.devs[0]->bytes().begin() + static_cast<long>((sb.md_offset + sb.md_sectors) * 512), 0);
    SetView v = s.check();
    ASSERT_TRUE(v.state);
    EXPECT_EQ(*v.state, w.state());
    EXPECT_EQ(v.source, 1u);
    EXPECT_TRUE(v.report.has("no-metadata"));
}

TEST(Metadata, CorruptNewestSlotInOneCopyLosesNothing)
{
    MemSet s = make_set({16 * MiB}, 256, 16);
    SetWriter w = writer(s);
    for (std::uint32_t i = 0; i < 20; i++) // one compaction into slot 1
        w.commit({remapped(i, 0, i)});
    s.devs[0]->bytes()[layout::slot_offset(s.sb(0), 1, 0) + 100] ^= 1;
    SetView v = s.check();
    EXPECT_TRUE(v.report.has("md-copy"));
    EXPECT_FALSE(v.report.has("slot-checksum"));
    EXPECT_EQ(v.report.count(Severity::Error), 0u);
    ASSERT_TRUE(v.state);
    EXPECT_EQ(*v.state, w.state());
}

// The newest snapshot destroyed in both copies: slot 0 (seq 1) plus the ring
// cannot reach seq 21 (the records it needs were overwritten), and the ring's
// records past the hole prove that a newer state existed. Loading the older
// state would lose acknowledged commits silently: refuse.
TEST(Metadata, NewestSnapshotLostInBothCopiesIsRefused)
{
    MemSet s = make_set({16 * MiB}, 256, 16);
    SetWriter w = writer(s);
    for (std::uint32_t i = 0; i < 20; i++)
        w.commit({remapped(i, 0, i)});
    for (unsigned c = 0; c < 2; c++)
        s.devs[0]->bytes()[layout::slot_offset(s.sb(0), 1, c) + 100] ^= 1;
    SetView v = s.check();
    EXPECT_TRUE(v.report.has("slot-checksum"));
    EXPECT_TRUE(v.report.has("journal-orphan"));
    EXPECT_TRUE(v.members[0].load->refused);
    EXPECT_FALSE(v.state);
}

TEST(Metadata, JournalGarbageAndOrphansAreReported)
{
    MemSet s = make_set();
    SetWriter w = writer(s);
    w.commit({pending(1)});
    const auto &sb = s.sb(1);
    auto &b = s.devs[1]->bytes();
    b[layout::journal_offset(sb, 9, 0) + 50] = 0x5a; // an empty block is no longer empty
    SetView v = s.check();
    EXPECT_TRUE(v.report.has("journal-corrupt"));
    // A torn write of the newest record: checksum fails, older state loads.
    MemSet t = make_set();
    SetWriter w2 = writer(t);
    w2.commit({pending(1)});
    w2.commit({pending(2)});
    for (auto &d : t.devs)
        for (unsigned c = 0; c < 2; c++)
            d->bytes()[layout::journal_offset(t.sb(0), 3, c) + 2000] ^= 0xff;
    v = t.check();
    EXPECT_TRUE(v.report.has("journal-corrupt"));
    EXPECT_EQ(v.state->seq, 2u);
    // A record far beyond the chain is an orphan.
    MemSet u = make_set();
    SetWriter w3 = writer(u);
    w3.commit({pending(1)});
    const std::uint64_t at = layout::journal_offset(u.sb(0), 2, 0);
    std::vector<std::uint8_t> rec(u.devs[0]->bytes().begin() + static_cast<long>(at),
                                  u.devs[0]->bytes().begin() + static_cast<long>(at + kBlock));
    auto r = codec::unpack_journal(std::span<const std::uint8_t, kBlock>(rec.data(), kBlock));
    r.seq = 7;
    MetadataArea(*u.devs[0], u.sb(0), "m").append(r);
    v = u.check();
    // Records 3-6 would be a hole in the history: refuse rather than stop at 2.
    EXPECT_TRUE(v.report.has("journal-orphan"));
    EXPECT_GT(v.report.count(Severity::Error), 0u);
    EXPECT_FALSE(v.state);
}

TEST(Metadata, WrongSetIsRefused)
{
    MemSet a = make_set({16 * MiB});
    MemSet b = make_set({16 * MiB, 8 * MiB});
    SetView v = Checker().run({a.devs[0].get(), b.devs[1].get()});
    EXPECT_TRUE(v.report.has("member-wrong-set"));
    ASSERT_TRUE(v.state);
    EXPECT_EQ(v.state->set_uuid, a.plan.state.set_uuid);
}

TEST(Metadata, RestoreWritesAboveEverySeqAndRecreatesWipedMembers)
{
    MemSet s = make_set();
    SetWriter w = writer(s);
    w.commit({remapped(5, 1, 3), pending(9)});
    SetView v = s.check();
    auto dump = SetJson::dump(v, 0);
    SetDescription d = SetJson::parse(dump);
    EXPECT_EQ(d.state, *v.state);
    // Lose everything on the spare, then restore it from the dump.
    std::fill(s.devs[1]->bytes().begin(), s.devs[1]->bytes().end(), 0);
    RestoreResult r = Restorer::restore(d, {s.devs[0].get(), s.devs[1].get()}, false);
    EXPECT_EQ(r.seq, 3u);
    EXPECT_EQ(r.indexes, (std::vector<std::uint16_t>{0, 1}));
    SetView after = s.check();
    EXPECT_FALSE(after.report.damaged());
    EXPECT_EQ(after.state->count(EntryState::Pending), 1u);
    EXPECT_EQ(after.state->find(5)->spare_block, 3u);
    EXPECT_EQ(after.state->seq, 3u);
    // Another set's device is refused unless forced.
    MemSet other = make_set({16 * MiB});
    EXPECT_THROW(Restorer::restore(d, {other.devs[0].get()}, false), Error);
}

// A membership change commits when the data member's superblock takes the
// new generation (docs/FORMAT.md §6): until then, snapshots of that
// generation on other members, however new, do not win.
TEST(Metadata, UnfinishedMembershipChangeDoesNotWin)
{
    MemSet s = make_set();
    SetWriter w = writer(s);
    w.commit({remapped(1, 1, 0)});
    RemapState next = w.state();
    next.generation = 2;
    next.seq += 1;
    Superblock spare_sb = s.sb(1);
    spare_sb.generation = 2;
    MetadataArea spare(*s.devs[1], spare_sb, "spare");
    spare.write_snapshot(next, spare.load().slot == 0 ? 1 : 0);
    spare.write_superblocks(spare_sb);

    SetView v = s.check();
    ASSERT_TRUE(v.state);
    EXPECT_EQ(*v.state, w.state());
    EXPECT_TRUE(v.report.has("member-unfinished"));
    EXPECT_TRUE(v.report.has("slot-generation"));

    // The commit point: the data member's snapshot and superblock follow.
    Superblock data_sb = s.sb(0);
    data_sb.generation = 2;
    MetadataArea data(*s.devs[0], data_sb, "data");
    data.write_snapshot(next, data.load().slot == 0 ? 1 : 0);
    data.write_superblocks(data_sb);
    v = s.check();
    ASSERT_TRUE(v.state);
    EXPECT_EQ(v.state->generation, 2u);
    EXPECT_EQ(v.state->seq, next.seq);
    EXPECT_FALSE(v.report.has("member-unfinished"));
    EXPECT_FALSE(v.report.damaged());
}
