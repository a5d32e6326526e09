// SPDX-License-Identifier: GPL-2.0-or-later
// Every validation failure class is detected and named.
#include "helpers.hpp"

#include <dm-remap-format.h>
#include <set_writer.hpp>
#include <validator.hpp>

#include <gtest/gtest.h>

using namespace dmremap;
using namespace dmremap::test;

namespace {

// Offsets inside a superblock block.
constexpr std::size_t kVersion = offsetof(dmr_superblock_disk, version);
constexpr std::size_t kIncompat = offsetof(dmr_superblock_disk, incompat_flags);
constexpr std::size_t kRoCompat = offsetof(dmr_superblock_disk, ro_compat_flags);
constexpr std::size_t kBlockSize = offsetof(dmr_superblock_disk, block_size);
constexpr std::size_t kDataSectors = offsetof(dmr_superblock_disk, data_sectors);
constexpr std::size_t kSpareOffset = offsetof(dmr_superblock_disk, spare_offset);
constexpr std::size_t kMdSectors = offsetof(dmr_superblock_disk, md_sectors);
constexpr std::size_t kName = offsetof(dmr_superblock_disk, name);
constexpr std::size_t kRole = offsetof(dmr_superblock_disk, role);

void put32(std::uint8_t *p, std::uint32_t v)
{
    v = htole32(v);
    std::memcpy(p, &v, 4);
}
void put64(std::uint8_t *p, std::uint64_t v)
{
    v = htole64(v);
    std::memcpy(p, &v, 8);
}

Report sb_report(MemSet &s, std::size_t dev, unsigned copy)
{
    std::array<std::uint8_t, kBlock> blk;
    s.devs[dev]->read(layout::sb_offset(copy), blk);
    return validator::superblock(blk, copy, s.devs[dev]->size_bytes() >> 9, "t");
}

// Commits some entries so the entry table is not empty.
void add_entries(MemSet &s, const std::vector<Entry> &updates)
{
    std::vector<WriterMember> ms;
    for (std::size_t i = 0; i < s.devs.size(); i++)
        ms.push_back({s.devs[i].get(), s.sb(i)});
    SetWriter w(ms, s.plan.state, 0, 1);
    w.commit(updates);
    w.compact();
}

} // namespace

TEST(Validator, FreshSetIsClean)
{
    MemSet s = make_set();
    SetView v = s.check();
    EXPECT_FALSE(v.report.damaged());
    ASSERT_TRUE(v.state);
    EXPECT_EQ(v.state->seq, 1u);
    EXPECT_EQ(v.state->members.size(), 2u);
}

TEST(Validator, Magic)
{
    MemSet s = make_set();
    s.devs[0]->bytes()[0] ^= 1;
    EXPECT_TRUE(sb_report(s, 0, 0).has("sb-magic"));
    SetView v = s.check();
    EXPECT_TRUE(v.report.has("sb-magic"));
    EXPECT_TRUE(v.members[0].sb); // copy 1 still identifies the member
    EXPECT_TRUE(v.state);
}

TEST(Validator, ChecksumOnEveryByteOfTheSuperblock)
{
    MemSet s = make_set();
    for (std::size_t off = 0; off < kBlock; off += 97) {
        auto &b = s.devs[1]->bytes();
        b[kBlock + off] ^= 0x20; // copy 1
        Report r = sb_report(s, 1, 1);
        EXPECT_TRUE(r.has("sb-checksum") || r.has("sb-magic")) << "byte " << off;
        b[kBlock + off] ^= 0x20;
    }
    EXPECT_FALSE(sb_report(s, 1, 1).damaged());
}

TEST(Validator, VersionFeaturesLocation)
{
    MemSet s = make_set();
    patch_block(*s.devs[0], 0, [](std::uint8_t *p) { put32(p + kVersion, 2); });
    EXPECT_TRUE(sb_report(s, 0, 0).has("sb-version"));
    patch_block(*s.devs[0], 0, [](std::uint8_t *p) {
        put32(p + kVersion, 1);
        put32(p + kIncompat, 0x80 | DMR_INCOMPAT_MD_MIRROR);
    });
    Report r = sb_report(s, 0, 0);
    EXPECT_TRUE(r.has("sb-feature"));
    EXPECT_EQ(r.count(Severity::Error), 1u);
    patch_block(*s.devs[0], 0, [](std::uint8_t *p) {
        put32(p + kIncompat, DMR_INCOMPAT_MD_MIRROR);
        put32(p + kRoCompat, 0x4);
    });
    r = sb_report(s, 0, 0);
    EXPECT_TRUE(r.has("sb-feature"));
    EXPECT_EQ(r.count(Severity::Error), 0u); // read-only use is still possible
    // Copy 1's bytes placed at copy 0's location.
    auto &b = s.devs[0]->bytes();
    std::memcpy(b.data(), b.data() + kBlock, kBlock);
    EXPECT_TRUE(sb_report(s, 0, 0).has("sb-location"));
}

TEST(Validator, SizesAndOverlaps)
{
    MemSet s = make_set();
    patch_block(*s.devs[0], 0, [](std::uint8_t *p) { put32(p + kBlockSize, 3000); });
    EXPECT_TRUE(sb_report(s, 0, 0).has("sb-geometry"));
    patch_block(*s.devs[0], 0, [&](std::uint8_t *p) {
        put32(p + kBlockSize, 4096);
        put64(p + kMdSectors, s.sb(0).md_sectors + 8);
    });
    EXPECT_TRUE(sb_report(s, 0, 0).has("sb-geometry"));
    // md_sectors covers every copy: the mirror flag and the size go together.
    patch_block(*s.devs[0], 0, [&](std::uint8_t *p) {
        put64(p + kMdSectors, s.sb(0).md_sectors);
        put32(p + kIncompat, 0);
    });
    EXPECT_TRUE(sb_report(s, 0, 0).has("sb-geometry"));
    patch_block(*s.devs[0], 0, [&](std::uint8_t *p) {
        put64(p + kMdSectors, s.sb(0).md_sectors / 2);
    });
    EXPECT_FALSE(sb_report(s, 0, 0).has("sb-geometry"));
    patch_block(*s.devs[0], 0, [&](std::uint8_t *p) {
        put32(p + kIncompat, DMR_INCOMPAT_MD_MIRROR);
        put64(p + kMdSectors, s.sb(0).md_sectors);
        put64(p + kDataSectors, s.sb(0).data_sectors + 2048); // runs into the internal spare
    });
    EXPECT_TRUE(sb_report(s, 0, 0).has("sb-overlap"));
    patch_block(*s.devs[0], 0, [&](std::uint8_t *p) {
        put64(p + kDataSectors, s.sb(0).data_sectors);
        put64(p + kSpareOffset, 8); // over the metadata
    });
    EXPECT_TRUE(sb_report(s, 0, 0).has("sb-overlap"));
    patch_block(*s.devs[0], 0, [&](std::uint8_t *p) {
        put64(p + kSpareOffset, s.sb(0).spare_offset);
        std::strcpy(reinterpret_cast<char *>(p + kName), "bad/name");
    });
    EXPECT_TRUE(sb_report(s, 0, 0).has("sb-name"));
    patch_block(*s.devs[0], 0, [&](std::uint8_t *p) {
        std::strcpy(reinterpret_cast<char *>(p + kName), "test");
        put32(p + kRole, DMR_ROLE_SPARE); // spare at index 0
    });
    EXPECT_TRUE(sb_report(s, 0, 0).has("sb-role"));
}

TEST(Validator, DeviceShrunk)
{
    MemSet s = make_set();
    s.devs[1]->bytes().resize(s.devs[1]->bytes().size() - MiB);
    SetView v = s.check();
    EXPECT_TRUE(v.report.has("sb-device-size"));
}

TEST(Validator, EntryRangeDuplicateAndState)
{
    MemSet s = make_set();
    const auto &sb = s.sb(0);
    const auto &ms = s.plan.state.members;
    const std::uint64_t data_blocks = layout::data_blocks(sb);
    auto check = [&](std::vector<Entry> es) { return validator::entries(es, ms, sb, true, "t"); };
    EXPECT_FALSE(check({remapped(0, 0, 0), pending(1), retired(1, 5)}).damaged());
    EXPECT_TRUE(check({remapped(data_blocks, 1, 0)}).has("entry-range"));
    EXPECT_TRUE(check({remapped(1, 1, 1u << 30)}).has("entry-range"));
    EXPECT_TRUE(check({remapped(1, 9, 0)}).has("entry-range")); // no member 9
    EXPECT_TRUE(check({remapped(1, 1, 3), remapped(1, 1, 4)}).has("entry-duplicate"));
    EXPECT_TRUE(check({remapped(1, 1, 3), remapped(2, 1, 3)}).has("entry-duplicate"));
    EXPECT_TRUE(check({remapped(1, 1, 3), retired(1, 3)}).has("entry-duplicate"));
    EXPECT_TRUE(check({remapped(2, 1, 3), remapped(1, 1, 4)}).has("entry-order"));
    EXPECT_TRUE(check({Entry{1, 5, 1, EntryState::Pending}}).has("entry-state"));
    EXPECT_TRUE(check({Entry{1, 5, 1, static_cast<EntryState>(9)}}).has("entry-state"));
    std::vector<Entry> many;
    for (std::uint64_t i = 0; i < 257; i++)
        many.push_back(pending(i));
    EXPECT_TRUE(check(many).has("entry-capacity"));
}

TEST(Validator, SnapshotEntriesChecksumAndContent)
{
    MemSet s = make_set();
    add_entries(s, {remapped(3, 1, 0), pending(4)});
    // Compaction went to slot 1 on every member.
    // One copy damaged: the other carries the snapshot.
    s.devs[0]->bytes()[layout::entries_offset(s.sb(0), 1, 0) + 3] ^= 1;
    SetView v = s.check();
    EXPECT_TRUE(v.report.has("md-copy"));
    EXPECT_FALSE(v.report.has("member-stale"));
    ASSERT_TRUE(v.state);
    EXPECT_EQ(v.state->count(EntryState::Remapped), 1u);
    s.devs[0]->bytes()[layout::entries_offset(s.sb(0), 1, 1) + 3] ^= 1;
    v = s.check();
    EXPECT_TRUE(v.report.has("slot-entries-checksum"));
    ASSERT_TRUE(v.state);
    EXPECT_EQ(v.state->count(EntryState::Remapped), 1u); // from member 1, or slot 0 + journal
}

TEST(Validator, MemberTableDamage)
{
    MemSet s = make_set();
    s.devs[0]->bytes()[layout::members_offset(s.sb(0), 0, 0) + 300] ^= 1; // member 1's uuid
    SetView v = s.check();
    EXPECT_TRUE(v.report.has("md-copy"));
    EXPECT_FALSE(v.report.has("no-metadata"));
    s.devs[0]->bytes()[layout::members_offset(s.sb(0), 0, 1) + 300] ^= 1;
    v = s.check();
    EXPECT_TRUE(v.report.has("slot-members-checksum"));
    EXPECT_TRUE(v.report.has("member-stale") || v.report.has("no-metadata"));
}

// Under ASan a check costs ten times as much: there the flips below take
// every fifth byte (every structure and field kind still hit); the plain
// build flips every byte.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t kFlipStride = 5;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr std::uint64_t kFlipStride = 5;
#else
constexpr std::uint64_t kFlipStride = 1;
#endif
#else
constexpr std::uint64_t kFlipStride = 1;
#endif

// The promise of the format: no single flipped byte anywhere in a live
// structure (either superblock copy, snapshot header, member table, live
// entries, any journal record) goes unnoticed by check.
TEST(Validator, EveryByteFlipIsDetected)
{
    MemSet s = make_set({16 * MiB}, 256, 16);
    {
        std::vector<WriterMember> ms = {{s.devs[0].get(), s.sb(0)}};
        SetWriter w(ms, s.plan.state, 0, 1);
        w.commit({remapped(3, 0, 0), pending(4), retired(0, 9)});
        w.compact(); // slot 1 now holds 3 live entries
        w.commit({remapped(5, 0, 1)});
    }
    ASSERT_FALSE(s.check().report.damaged());
    const Superblock &sb = s.sb(0);
    struct Region {
        std::string name;
        std::uint64_t off, len;
    };
    std::vector<Region> regions = {
        {"superblock copy 0", layout::sb_offset(0), kBlock},
        {"superblock copy 1", layout::sb_offset(1), kBlock},
    };
    // Either copy of the metadata area: a flip in one is a lost copy (md-copy).
    ASSERT_EQ(layout::md_copies(sb), 2u);
    for (unsigned c = 0; c < 2; c++) {
        const std::string cs = " (md copy " + std::to_string(c) + ")";
        regions.push_back({"slot 1 header" + cs, layout::slot_offset(sb, 1, c), kBlock});
        regions.push_back({"slot 1 member table" + cs, layout::members_offset(sb, 1, c), DMR_MEMBER_TABLE_BLOCKS * kBlock});
        regions.push_back({"slot 1 entries" + cs, layout::entries_offset(sb, 1, c), 3 * sizeof(dmr_entry_disk)});
        regions.push_back({"journal record 2" + cs, layout::journal_offset(sb, 2, c), kBlock});
        regions.push_back({"journal record 3" + cs, layout::journal_offset(sb, 3, c), kBlock});
        regions.push_back({"empty journal block" + cs, layout::journal_offset(sb, 9, c), kBlock});
    }
    auto &bytes = s.devs[0]->bytes();
    for (const auto &r : regions) {
        for (std::uint64_t i = 0; i < r.len; i += kFlipStride) {
            for (std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x80}}) {
                bytes[r.off + i] ^= mask;
                const bool damaged = s.check().report.damaged();
                bytes[r.off + i] ^= mask;
                ASSERT_TRUE(damaged) << r.name << " byte " << i << " mask " << int(mask);
            }
        }
    }
}
