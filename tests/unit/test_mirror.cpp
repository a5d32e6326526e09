// SPDX-License-Identifier: GPL-2.0-or-later
// The metadata mirror (DMR_INCOMPAT_MD_MIRROR, docs/FORMAT.md §5): one bad
// or damaged block in one copy loses nothing; a block lost in every copy, or
// a record beyond a hole, makes the history unprovable and the load refuses
// rather than hand out a shorter one.
#include "helpers.hpp"

#include <dm-remap-format.h>
#include <error.hpp>
#include <set_writer.hpp>

#include <gtest/gtest.h>

using namespace dmremap;
using namespace dmremap::test;

namespace {

// One data member, 20 commits: a compaction put seq 17 into slot 1, records
// 18-21 follow it in the ring.
struct Fixture {
    MemSet s = make_set({16 * MiB}, 256, 16);
    RemapState final;

    Fixture()
    {
        SetWriter w({{s.devs[0].get(), s.sb(0)}}, s.plan.state, 0, 1);
        for (std::uint32_t i = 0; i < 20; i++)
            w.commit({remapped(i, 0, i)});
        final = w.state();
    }
    const Superblock &sb() const { return s.sb(0); }
    SetView check(BadSectorIo &io) const { return Checker().run({&io}); }
};

struct Target {
    const char *name;
    std::uint64_t (*offset)(const Superblock &, unsigned copy);
};

const Target kTargets[] = {
    {"journal record 19", [](const Superblock &sb, unsigned c) { return layout::journal_offset(sb, 19, c); }},
    {"slot 1 header", [](const Superblock &sb, unsigned c) { return layout::slot_offset(sb, 1, c); }},
    {"slot 1 member table", [](const Superblock &sb, unsigned c) { return layout::members_offset(sb, 1, c) + kBlock; }},
    {"slot 1 entry table", [](const Superblock &sb, unsigned c) { return layout::entries_offset(sb, 1, c); }},
};

} // namespace

TEST(Mirror, FormatWritesTwoCopies)
{
    MemSet s = make_set({16 * MiB});
    EXPECT_EQ(s.sb(0).incompat_flags, DMR_INCOMPAT_MD_MIRROR);
    EXPECT_EQ(s.sb(0).md_sectors, 2 * layout::md_blocks(256, 16) * DMR_MD_BLOCK_SECTORS);
    const auto &b = s.devs[0]->bytes();
    const std::uint64_t len = layout::md_blocks(256, 16) * kBlock;
    EXPECT_TRUE(std::equal(b.begin() + long(layout::md_copy_offset(s.sb(0), 0)),
                           b.begin() + long(layout::md_copy_offset(s.sb(0), 0) + len),
                           b.begin() + long(layout::md_copy_offset(s.sb(0), 1))));
}

TEST(Mirror, OneCopyUnreadableLosesNothing)
{
    for (const auto &t : kTargets) {
        Fixture f;
        BadSectorIo io(*f.s.devs[0]);
        io.fail(t.offset(f.sb(), 0), 512); // one sector of the block, copy 0 only
        SetView v = f.check(io);
        ASSERT_TRUE(v.state) << t.name;
        EXPECT_EQ(*v.state, f.final) << t.name;
        EXPECT_TRUE(v.report.has("md-copy")) << t.name;
        EXPECT_EQ(v.report.count(Severity::Error), 0u) << t.name;
    }
}

TEST(Mirror, OneCopyDamagedLosesNothing)
{
    for (const auto &t : kTargets) {
        Fixture f;
        f.s.devs[0]->bytes()[t.offset(f.sb(), 0) + 100] ^= 0x10;
        BadSectorIo io(*f.s.devs[0]);
        SetView v = f.check(io);
        ASSERT_TRUE(v.state) << t.name;
        EXPECT_EQ(*v.state, f.final) << t.name;
        EXPECT_TRUE(v.report.has("md-copy")) << t.name;
        EXPECT_EQ(v.report.count(Severity::Error), 0u) << t.name;
    }
}

// The newest record unreadable in both copies: the history may end before
// it or go on; nothing proves which, so no state is handed out.
TEST(Mirror, RecordUnreadableInBothCopiesIsRefused)
{
    Fixture f;
    BadSectorIo io(*f.s.devs[0]);
    for (unsigned c = 0; c < 2; c++)
        io.fail(layout::journal_offset(f.sb(), 21, c), 512);
    SetView v = f.check(io);
    EXPECT_TRUE(v.report.has("md-unreadable"));
    EXPECT_TRUE(v.report.has("journal-unreadable"));
    EXPECT_GT(v.report.count(Severity::Error), 0u);
    EXPECT_FALSE(v.state);
    // Record 19 in the middle: the same, and 20-21 are beyond the hole too.
    Fixture g;
    BadSectorIo io2(*g.s.devs[0]);
    for (unsigned c = 0; c < 2; c++)
        io2.fail(layout::journal_offset(g.sb(), 19, c), kBlock);
    v = g.check(io2);
    EXPECT_TRUE(v.report.has("journal-unreadable"));
    EXPECT_TRUE(v.report.has("journal-orphan"));
    EXPECT_FALSE(v.state);
}

// A block unreadable in both copies is damage, never an empty block: an
// unreadable ring position just past the end still refuses, since a newer
// record may have been there.
TEST(Mirror, UnreadableBlockIsNeverEmpty)
{
    Fixture f;
    BadSectorIo io(*f.s.devs[0]);
    for (unsigned c = 0; c < 2; c++)
        io.fail(layout::journal_offset(f.sb(), 22, c), kBlock);
    SetView v = f.check(io);
    EXPECT_TRUE(v.report.has("journal-unreadable"));
    EXPECT_FALSE(v.state);
}

// A record lost from the middle of the history (both copies zeroed, as a
// bad write that went nowhere would leave them): the valid records after it
// are orphans, and the load refuses instead of stopping before the hole.
TEST(Mirror, RecordBeyondAHoleIsRefused)
{
    MemSet s = make_set({16 * MiB}, 256, 16);
    SetWriter w({{s.devs[0].get(), s.sb(0)}}, s.plan.state, 0, 1);
    for (std::uint32_t i = 0; i < 4; i++) // records 2-5
        w.commit({remapped(i, 0, i)});
    for (unsigned c = 0; c < 2; c++)
        std::fill_n(s.devs[0]->bytes().begin() + long(layout::journal_offset(s.sb(0), 3, c)), kBlock, 0);
    SetView v = s.check();
    EXPECT_TRUE(v.report.has("journal-orphan"));
    EXPECT_GT(v.report.count(Severity::Error), 0u);
    EXPECT_TRUE(v.members[0].load->refused);
    EXPECT_FALSE(v.state);
}

// The newest snapshot unreadable in both copies, records after it: slot 0 +
// the ring cannot reach them, so they are orphans, not a silent older state.
TEST(Mirror, NewestSnapshotUnreadableEverywhereIsRefused)
{
    Fixture f;
    BadSectorIo io(*f.s.devs[0]);
    for (unsigned c = 0; c < 2; c++)
        io.fail(layout::slot_offset(f.sb(), 1, c), kBlock);
    SetView v = f.check(io);
    EXPECT_TRUE(v.report.has("md-unreadable"));
    EXPECT_TRUE(v.report.has("journal-orphan"));
    EXPECT_FALSE(v.state);
}

// Across members (§5 rule 3): a record unreadable in every copy on one
// member is still present on another; the set's history is complete.
TEST(Mirror, AnotherMemberProvesTheHistory)
{
    MemSet s = make_set();
    SetWriter w({{s.devs[0].get(), s.sb(0)}, {s.devs[1].get(), s.sb(1)}}, s.plan.state, 0, 1);
    for (std::uint32_t i = 0; i < 5; i++)
        w.commit({remapped(i, 1, i)});
    BadSectorIo bad(*s.devs[0]);
    for (unsigned c = 0; c < 2; c++)
        bad.fail(layout::journal_offset(s.sb(0), 4, c), kBlock);
    SetView v = Checker().run({&bad, s.devs[1].get()});
    ASSERT_TRUE(v.state);
    EXPECT_EQ(*v.state, w.state());
    EXPECT_TRUE(v.report.has("journal-unreadable")); // member 0 cannot prove it alone...
    EXPECT_TRUE(v.report.has("member-stale"));       // ...so it is behind, activation rewrites it
    for (const auto &p : v.report.problems()) {
        if (p.code == "journal-unreadable" || p.code == "journal-orphan") {
            EXPECT_EQ(p.severity, Severity::Warning) << p.where;
        }
    }
}

// Sets formatted before the mirror (one copy, no flag) keep loading and
// keep the old rules' strictness for a lost block.
TEST(Mirror, OneCopySetsStillWork)
{
    MemSet s = make_set({16 * MiB}, 256, 16, false);
    EXPECT_EQ(s.sb(0).incompat_flags, 0u);
    EXPECT_EQ(layout::md_copies(s.sb(0)), 1u);
    SetWriter w({{s.devs[0].get(), s.sb(0)}}, s.plan.state, 0, 1);
    for (std::uint32_t i = 0; i < 20; i++)
        w.commit({remapped(i, 0, i)});
    SetView v = s.check();
    EXPECT_FALSE(v.report.damaged());
    ASSERT_TRUE(v.state);
    EXPECT_EQ(*v.state, w.state());
    BadSectorIo io(*s.devs[0]);
    io.fail(layout::journal_offset(s.sb(0), 21, 0), 512);
    v = Checker().run({&io});
    EXPECT_TRUE(v.report.has("journal-unreadable"));
    EXPECT_FALSE(v.state);
}
