// SPDX-License-Identifier: GPL-2.0-or-later
// The tables of a replace (replace_table.hpp): which sector goes where.
#include <discovery.hpp>
#include <dm-remap-format.h>
#include <replace_table.hpp>

#include <gtest/gtest.h>

using namespace dmremap;

namespace {

Extents ext(std::initializer_list<std::pair<std::uint64_t, std::uint64_t>> l)
{
    Extents e;
    for (const auto &[s, t] : l)
        e.add(s, t);
    return e;
}

ReplaceGeometry geo(std::uint64_t len)
{
    ReplaceGeometry g;
    g.data_sectors = len;
    g.source = "253:9";
    g.target = "8:16";
    g.target_offset = 137216;
    return g;
}

std::string line(const std::vector<DmTarget> &t)
{
    std::string s;
    for (const auto &x : t)
        s += std::to_string(x.start) + "+" + std::to_string(x.length) + " " + x.type + " " + x.params + "\n";
    return s;
}

} // namespace

TEST(Extents, AddMergesAndRemoveSplits)
{
    Extents e = ext({{0, 8}, {16, 24}, {8, 16}});
    EXPECT_EQ(e.ranges().size(), 1u);
    EXPECT_EQ(e.total(), 24u);
    e.remove(4, 12);
    EXPECT_EQ(e, ext({{0, 4}, {12, 24}}));
    EXPECT_TRUE(e.contains(3));
    EXPECT_FALSE(e.contains(4));
    EXPECT_FALSE(e.contains(24));
    e.remove(0, 100);
    EXPECT_TRUE(e.empty());
    EXPECT_EQ(ext({{0, 10}, {20, 30}}).intersect(ext({{5, 25}})), ext({{5, 10}, {20, 25}}));
}

TEST(ReplaceTable, StartIsTheOldDiskAlone)
{
    EXPECT_EQ(line(ReplaceTable::build(geo(1000), {}, {}, {})), "0+1000 linear 253:9 0\n");
}

TEST(ReplaceTable, CopiedCopyingHeldAndRest)
{
    // Copied [0,400) with block [104,112) held, copying [400,600), rest linear.
    const auto t = ReplaceTable::build(geo(1000), ext({{0, 400}}), ext({{400, 600}}), ext({{104, 112}}));
    EXPECT_EQ(line(t), "0+104 mirror core 2 64 nosync 2 253:9 0 8:16 137216 1 handle_errors\n"
                       "104+8 linear 253:9 104\n"
                       "112+288 mirror core 2 256 nosync 2 253:9 112 8:16 137328 1 handle_errors\n"
                       "400+200 mirror core 1 128 2 253:9 400 8:16 137616 1 handle_errors\n"
                       "600+400 linear 253:9 600\n");
    // Held blocks beyond the copied part merge into the linear rest.
    const auto u = ReplaceTable::build(geo(1000), ext({{0, 400}}), {}, ext({{800, 808}}));
    EXPECT_EQ(u.size(), 2u);
    EXPECT_EQ(u[1].type, "linear");
    EXPECT_EQ(u[1].start, 400u);
    EXPECT_EQ(u[1].length, 600u);
}

TEST(ReplaceTable, EveryPieceCoversTheLengthOnce)
{
    const auto t = ReplaceTable::build(geo(4096), ext({{0, 2048}}), ext({{2048, 4096}, {8, 16}}),
                                       ext({{0, 8}, {4088, 4096}}));
    std::uint64_t pos = 0;
    for (const auto &x : t) {
        EXPECT_EQ(x.start, pos);
        EXPECT_GT(x.length, 0u);
        if (x.type == "mirror") {
            const auto r = ReplaceTable::region_sectors(x.length);
            EXPECT_LE(r, x.length);
            EXPECT_EQ(r & (r - 1), 0u);
        }
        pos += x.length;
    }
    EXPECT_EQ(pos, 4096u);
    EXPECT_EQ(t.front().type, "linear");
    EXPECT_EQ(t.back().type, "linear");
}

TEST(ReplaceTable, RegionSize)
{
    EXPECT_EQ(ReplaceTable::region_sectors(1u << 30), 4096u);
    EXPECT_EQ(ReplaceTable::region_sectors(4096), 4096u);
    EXPECT_EQ(ReplaceTable::region_sectors(4095), 2048u);
    EXPECT_EQ(ReplaceTable::region_sectors(8), 8u);
}

TEST(MirrorStatus, Parses)
{
    auto s = parse_mirror_status("2 253:9 8:16 12/40 1 AD 1 core");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->in_sync, 12u);
    EXPECT_EQ(s->regions, 40u);
    EXPECT_FALSE(s->synced());
    EXPECT_FALSE(s->leg_failed(0));
    EXPECT_TRUE(s->leg_failed(1));
    EXPECT_TRUE(parse_mirror_status("2 253:9 8:16 40/40 1 AA 1 core")->synced());
    for (const char *bad : {"", "x", "2 253:9", "2 a b 5/4 1 AA 1 core", "2 a b 1/4 1 A 1 core", "0 1/1 1  1 core",
                            "2 a b 1-4 1 AA"})
        EXPECT_FALSE(parse_mirror_status(bad)) << bad;
}

// What assembly may use of the disks a replace leaves (Discovery::usable).
namespace {

FoundMember member(const char *node, const Uuid &set, Role role, std::uint64_t generation, std::uint32_t flags)
{
    FoundMember m;
    m.devnode = node;
    m.set_uuid = set;
    m.member_uuid = Uuid::random();
    m.role = role;
    m.index = role == Role::Data ? 0 : 1;
    m.generation = generation;
    m.compat_flags = flags;
    return m;
}

std::string nodes(const std::vector<FoundMember> &v)
{
    std::string s;
    for (const auto &m : v)
        s += m.devnode + " ";
    return s;
}

} // namespace

TEST(ReplaceAssembly, PassesOverFlaggedDisks)
{
    const Uuid set = Uuid::random(), other = Uuid::random();
    // Mid-copy: the old set and an unfinished new disk.
    EXPECT_EQ(nodes(Discovery::usable({member("old", set, Role::Data, 3, 0), member("spare", set, Role::Spare, 3, 0),
                                       member("new", set, Role::Data, 1, DMR_COMPAT_REPLACING)})),
              "old spare ");
    // After the switch: the new disk; the old set flagged.
    EXPECT_EQ(nodes(Discovery::usable({member("old", set, Role::Data, 3, DMR_COMPAT_REPLACED),
                                       member("spare", set, Role::Spare, 3, DMR_COMPAT_REPLACED),
                                       member("new", set, Role::Data, 4, 0)})),
              "new ");
    // A power cut after the commit point: the new disk still REPLACING.
    EXPECT_EQ(nodes(Discovery::usable({member("old", set, Role::Data, 3, DMR_COMPAT_REPLACED),
                                       member("new", set, Role::Data, 4, DMR_COMPAT_REPLACING)})),
              "new ");
    // ... seen without the old disk: nothing proves the switch committed.
    EXPECT_EQ(nodes(Discovery::usable({member("new", set, Role::Data, 4, DMR_COMPAT_REPLACING)})), "");
    // Two unflagged data members (a switch undone halfway): the newer wins,
    // with no member as old as the older one; other sets are untouched.
    EXPECT_EQ(nodes(Discovery::usable({member("old", set, Role::Data, 3, 0), member("spare", set, Role::Spare, 3, 0),
                                       member("new", set, Role::Data, 4, 0), member("x", other, Role::Data, 1, 0)})),
              "new x ");
}
