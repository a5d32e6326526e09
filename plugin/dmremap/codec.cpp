// SPDX-License-Identifier: LGPL-2.1-or-later
#include "codec.hpp"

#include "crc32c.hpp"

#include <dm-remap-format.h>

#include <algorithm>
#include <cstring>
#include <endian.h>

static_assert(dmremap::kBlock == DMR_MD_BLOCK_SIZE);
static_assert(sizeof(dmr_superblock_disk) == 4096 && offsetof(dmr_superblock_disk, name) == 160);
static_assert(sizeof(dmr_member_disk) == 256 && sizeof(dmr_entry_disk) == 16);
static_assert(sizeof(dmr_snapshot_disk) == 4096 && sizeof(dmr_journal_disk) == 4096);

namespace dmremap::codec {
namespace {

template <typename Disk> Disk load(ConstBlock in)
{
    Disk d;
    std::memcpy(&d, in.data(), sizeof d);
    return d;
}

template <typename Disk> void store_with_csum(Disk &d, Block out)
{
    std::memcpy(out.data(), &d, sizeof d);
    std::uint32_t c = htole32(block_csum(out));
    std::memcpy(out.data() + 8, &c, 4);
}

// Copy a string into a fixed NUL-terminated field (truncating) and back.
void put_string(char *field, std::size_t size, const std::string &s)
{
    std::memset(field, 0, size);
    std::memcpy(field, s.data(), std::min(s.size(), size - 1));
}

std::string get_string(const char *field, std::size_t size)
{
    return std::string(field, strnlen(field, size));
}

dmr_entry_disk to_disk(const Entry &e)
{
    dmr_entry_disk d{};
    d.data_block = htole64(e.data_block);
    d.spare_block = htole32(e.spare_block);
    d.spare_index = htole16(e.spare_index);
    d.state = htole16(static_cast<std::uint16_t>(e.state));
    return d;
}

Entry from_disk(const dmr_entry_disk &d)
{
    return Entry{le64toh(d.data_block), le32toh(d.spare_block), le16toh(d.spare_index),
                 static_cast<EntryState>(le16toh(d.state))};
}

} // namespace

std::uint32_t block_csum(ConstBlock b)
{
    std::uint8_t copy[kBlock];
    std::memcpy(copy, b.data(), kBlock);
    std::memset(copy + 8, 0, 4);
    return crc32c(copy);
}

std::uint32_t stored_csum(ConstBlock b)
{
    std::uint32_t c;
    std::memcpy(&c, b.data() + 8, 4);
    return le32toh(c);
}

std::uint64_t magic(ConstBlock b)
{
    std::uint64_t m;
    std::memcpy(&m, b.data(), 8);
    return le64toh(m);
}

void pack(const Superblock &sb, Block out)
{
    dmr_superblock_disk d{};
    d.magic = htole64(DMR_SB_MAGIC);
    d.version = htole32(sb.version);
    d.compat_flags = htole32(sb.compat_flags);
    d.ro_compat_flags = htole32(sb.ro_compat_flags);
    d.incompat_flags = htole32(sb.incompat_flags);
    d.block_size = htole32(sb.block_size);
    sb.set_uuid.copy_to(d.set_uuid);
    sb.member_uuid.copy_to(d.member_uuid);
    d.role = htole16(static_cast<std::uint16_t>(sb.role));
    d.member_index = htole16(sb.member_index);
    d.sb_copy = htole32(sb.sb_copy);
    d.sb_location = htole64(sb.sb_location);
    d.generation = htole64(sb.generation);
    d.ctime = htole64(sb.ctime);
    d.member_sectors = htole64(sb.member_sectors);
    d.md_offset = htole64(sb.md_offset);
    d.md_sectors = htole64(sb.md_sectors);
    d.max_entries = htole32(sb.max_entries);
    d.journal_blocks = htole32(sb.journal_blocks);
    d.data_offset = htole64(sb.data_offset);
    d.data_sectors = htole64(sb.data_sectors);
    d.spare_offset = htole64(sb.spare_offset);
    d.spare_sectors = htole64(sb.spare_sectors);
    put_string(d.name, sizeof d.name, sb.name);
    store_with_csum(d, out);
}

Superblock unpack_superblock(ConstBlock in)
{
    auto d = load<dmr_superblock_disk>(in);
    Superblock sb;
    sb.version = le32toh(d.version);
    sb.compat_flags = le32toh(d.compat_flags);
    sb.ro_compat_flags = le32toh(d.ro_compat_flags);
    sb.incompat_flags = le32toh(d.incompat_flags);
    sb.block_size = le32toh(d.block_size);
    sb.set_uuid = Uuid(d.set_uuid);
    sb.member_uuid = Uuid(d.member_uuid);
    sb.role = static_cast<Role>(le16toh(d.role));
    sb.member_index = le16toh(d.member_index);
    sb.sb_copy = le32toh(d.sb_copy);
    sb.sb_location = le64toh(d.sb_location);
    sb.generation = le64toh(d.generation);
    sb.ctime = le64toh(d.ctime);
    sb.member_sectors = le64toh(d.member_sectors);
    sb.md_offset = le64toh(d.md_offset);
    sb.md_sectors = le64toh(d.md_sectors);
    sb.max_entries = le32toh(d.max_entries);
    sb.journal_blocks = le32toh(d.journal_blocks);
    sb.data_offset = le64toh(d.data_offset);
    sb.data_sectors = le64toh(d.data_sectors);
    sb.spare_offset = le64toh(d.spare_offset);
    sb.spare_sectors = le64toh(d.spare_sectors);
    sb.name = get_string(d.name, sizeof d.name);
    return sb;
}

void pack(const SnapshotHeader &h, Block out)
{
    dmr_snapshot_disk d{};
    d.magic = htole64(DMR_SNAP_MAGIC);
    d.slot = htole32(h.slot);
    h.set_uuid.copy_to(d.set_uuid);
    d.seq = htole64(h.seq);
    d.generation = htole64(h.generation);
    d.nr_entries = htole32(h.nr_entries);
    d.entries_csum = htole32(h.entries_csum);
    d.members_csum = htole32(h.members_csum);
    store_with_csum(d, out);
}

SnapshotHeader unpack_snapshot(ConstBlock in)
{
    auto d = load<dmr_snapshot_disk>(in);
    SnapshotHeader h;
    h.slot = le32toh(d.slot);
    h.set_uuid = Uuid(d.set_uuid);
    h.seq = le64toh(d.seq);
    h.generation = le64toh(d.generation);
    h.nr_entries = le32toh(d.nr_entries);
    h.entries_csum = le32toh(d.entries_csum);
    h.members_csum = le32toh(d.members_csum);
    return h;
}

std::vector<std::uint8_t> pack_members(const std::vector<Member> &members)
{
    std::vector<std::uint8_t> out(DMR_MEMBER_TABLE_BLOCKS * kBlock, 0);
    for (const auto &m : members) {
        if (m.index >= DMR_MAX_MEMBERS)
            continue;
        dmr_member_disk d{};
        m.uuid.copy_to(d.uuid);
        d.role = htole16(static_cast<std::uint16_t>(m.role));
        d.index = htole16(m.index);
        d.flags = htole32(m.flags);
        d.member_sectors = htole64(m.member_sectors);
        d.spare_offset = htole64(m.spare_offset);
        d.spare_sectors = htole64(m.spare_sectors);
        put_string(d.image_path, sizeof d.image_path, m.image_path);
        std::memcpy(out.data() + m.index * sizeof d, &d, sizeof d);
    }
    return out;
}

std::vector<Member> unpack_members(std::span<const std::uint8_t> table)
{
    std::vector<Member> out;
    std::size_t n = std::min<std::size_t>(table.size() / sizeof(dmr_member_disk), DMR_MAX_MEMBERS);
    for (std::size_t i = 0; i < n; i++) {
        dmr_member_disk d;
        std::memcpy(&d, table.data() + i * sizeof d, sizeof d);
        auto role = static_cast<Role>(le16toh(d.role));
        if (role == Role::None)
            continue;
        Member m;
        m.uuid = Uuid(d.uuid);
        m.role = role;
        m.index = le16toh(d.index);
        m.flags = le32toh(d.flags);
        m.member_sectors = le64toh(d.member_sectors);
        m.spare_offset = le64toh(d.spare_offset);
        m.spare_sectors = le64toh(d.spare_sectors);
        m.image_path = get_string(d.image_path, sizeof d.image_path);
        out.push_back(std::move(m));
    }
    return out;
}

std::vector<std::uint8_t> pack_entries(const std::vector<Entry> &entries)
{
    std::vector<std::uint8_t> out(entries.size() * sizeof(dmr_entry_disk));
    for (std::size_t i = 0; i < entries.size(); i++) {
        auto d = to_disk(entries[i]);
        std::memcpy(out.data() + i * sizeof d, &d, sizeof d);
    }
    return out;
}

std::vector<Entry> unpack_entries(std::span<const std::uint8_t> bytes)
{
    std::vector<Entry> out(bytes.size() / sizeof(dmr_entry_disk));
    for (std::size_t i = 0; i < out.size(); i++) {
        dmr_entry_disk d;
        std::memcpy(&d, bytes.data() + i * sizeof d, sizeof d);
        out[i] = from_disk(d);
    }
    return out;
}

void pack(const JournalRecord &r, Block out)
{
    dmr_journal_disk d{};
    d.magic = htole64(DMR_JOURNAL_MAGIC);
    std::size_t n = std::min<std::size_t>(r.updates.size(), DMR_JOURNAL_UPDATES);
    d.nr_updates = htole32(static_cast<std::uint32_t>(n));
    r.set_uuid.copy_to(d.set_uuid);
    d.seq = htole64(r.seq);
    d.generation = htole64(r.generation);
    for (std::size_t i = 0; i < n; i++)
        d.updates[i] = to_disk(r.updates[i]);
    store_with_csum(d, out);
}

JournalRecord unpack_journal(ConstBlock in)
{
    auto d = load<dmr_journal_disk>(in);
    JournalRecord r;
    r.set_uuid = Uuid(d.set_uuid);
    r.seq = le64toh(d.seq);
    r.generation = le64toh(d.generation);
    std::uint32_t n = std::min<std::uint32_t>(le32toh(d.nr_updates), DMR_JOURNAL_UPDATES);
    r.updates.reserve(n);
    for (std::uint32_t i = 0; i < n; i++)
        r.updates.push_back(from_disk(d.updates[i]));
    return r;
}

} // namespace dmremap::codec
