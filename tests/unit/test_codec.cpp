// SPDX-License-Identifier: GPL-2.0-or-later
#include <codec.hpp>
#include <crc32c.hpp>
#include <dm-remap-format.h>

#include <gtest/gtest.h>

#include <array>
#include <cstring>

using namespace dmremap;

TEST(Crc32c, StandardCheckValue)
{
    const char *s = "123456789";
    EXPECT_EQ(crc32c(std::span(reinterpret_cast<const std::uint8_t *>(s), 9)), 0xe3069283u);
    std::vector<std::uint8_t> zeros(32, 0);
    EXPECT_EQ(crc32c(zeros), 0x8a9136aau); // RFC 3720 B.4
}

TEST(Codec, SuperblockRoundTrip)
{
    Superblock sb;
    sb.version = 1;
    sb.block_size = 4096;
    sb.set_uuid = Uuid::random();
    sb.member_uuid = Uuid::random();
    sb.role = Role::Spare;
    sb.member_index = 7;
    sb.sb_copy = 1;
    sb.sb_location = 8;
    sb.generation = 42;
    sb.ctime = 1700000000;
    sb.member_sectors = 1ull << 40;
    sb.md_offset = 16;
    sb.md_sectors = 12345;
    sb.max_entries = 1048576;
    sb.journal_blocks = 256;
    sb.data_offset = 69632;
    sb.data_sectors = 999999;
    sb.spare_offset = 77777;
    sb.spare_sectors = 8888;
    sb.name = "disk-0.a+b:c@d";
    std::array<std::uint8_t, kBlock> blk{};
    codec::pack(sb, blk);
    EXPECT_EQ(std::memcmp(blk.data(), "DM-REMAP", 8), 0);
    EXPECT_EQ(codec::stored_csum(blk), codec::block_csum(blk));
    EXPECT_EQ(codec::unpack_superblock(blk), sb);
    // Fixed offsets are part of the format: a field moving breaks every disk.
    std::uint64_t gen;
    std::memcpy(&gen, blk.data() + offsetof(dmr_superblock_disk, generation), 8);
    EXPECT_EQ(le64toh(gen), 42u);
    EXPECT_EQ(std::string(reinterpret_cast<char *>(blk.data()) + 160), sb.name);
}

TEST(Codec, SnapshotHeaderAndMembersRoundTrip)
{
    SnapshotHeader h;
    h.slot = 1;
    h.set_uuid = Uuid::random();
    h.seq = 99;
    h.generation = 3;
    h.nr_entries = 5;
    h.entries_csum = 0xdeadbeef;
    h.members_csum = 0x12345678;
    std::array<std::uint8_t, kBlock> blk{};
    codec::pack(h, blk);
    EXPECT_EQ(std::memcmp(blk.data(), "DMR-SNAP", 8), 0);
    auto back = codec::unpack_snapshot(blk);
    EXPECT_EQ(back.seq, 99u);
    EXPECT_EQ(back.slot, 1u);
    EXPECT_EQ(back.set_uuid, h.set_uuid);
    EXPECT_EQ(back.entries_csum, 0xdeadbeefu);

    std::vector<Member> ms(2);
    ms[0] = {Uuid::random(), Role::Data, 0, 0, 1000000, 900000, 4096, ""};
    ms[1] = {Uuid::random(), Role::Spare, 5, DMR_MEMBER_F_LOOP_IMAGE, 500000, 4096, 400000,
             "/var/lib/dm-remap/spares/s1.img"};
    auto table = codec::pack_members(ms);
    ASSERT_EQ(table.size(), 16384u);
    EXPECT_EQ(codec::unpack_members(table), ms);
    // Records sit at their index.
    EXPECT_EQ(table[5 * 256 + 16], DMR_ROLE_SPARE);
}

TEST(Codec, EntriesAndJournalRoundTrip)
{
    std::vector<Entry> es = {{3, 1, 0, EntryState::Remapped},
                             {9, 0, kNoMember, EntryState::Pending},
                             {kNoBlock, 77, 2, EntryState::Retired}};
    auto raw = codec::pack_entries(es);
    ASSERT_EQ(raw.size(), 48u);
    EXPECT_EQ(codec::unpack_entries(raw), es);

    JournalRecord r;
    r.set_uuid = Uuid::random();
    r.seq = 1000;
    r.generation = 2;
    for (std::uint64_t i = 0; i < DMR_JOURNAL_UPDATES + 10; i++)
        r.updates.push_back({i, static_cast<std::uint32_t>(i), 1, EntryState::Remapped});
    std::array<std::uint8_t, kBlock> blk{};
    codec::pack(r, blk);
    EXPECT_EQ(std::memcmp(blk.data(), "DMR-JRNL", 8), 0);
    auto back = codec::unpack_journal(blk);
    EXPECT_EQ(back.seq, 1000u);
    ASSERT_EQ(back.updates.size(), DMR_JOURNAL_UPDATES); // the excess never reaches disk
    EXPECT_EQ(back.updates.back().data_block, DMR_JOURNAL_UPDATES - 1);
}

TEST(Codec, UnpackOfGarbageDoesNotCrash)
{
    std::array<std::uint8_t, kBlock> blk;
    blk.fill(0xff);
    auto sb = codec::unpack_superblock(blk);
    EXPECT_EQ(sb.name.size(), DMR_NAME_LEN); // no NUL: bounded by the field
    auto r = codec::unpack_journal(blk);
    EXPECT_EQ(r.updates.size(), DMR_JOURNAL_UPDATES);
}
