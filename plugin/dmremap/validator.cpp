// SPDX-License-Identifier: LGPL-2.1-or-later
#include "validator.hpp"

#include "layout.hpp"

#include <dm-remap-format.h>

#include <cstdio>
#include <cstring>
#include <endian.h>
#include <map>
#include <set>
#include <tuple>

namespace dmremap::validator {
namespace {

std::string hex(std::uint64_t v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string num(std::uint64_t v) { return std::to_string(v); }

bool pow2(std::uint64_t v) { return v && !(v & (v - 1)); }

// [a, a+alen) and [b, b+blen) overlap (empty ranges never do).
bool overlaps(std::uint64_t a, std::uint64_t alen, std::uint64_t b, std::uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

void geometry(const Superblock &sb, std::uint64_t device_sectors, Report &r, const std::string &w)
{
    auto bad = [&](std::string msg) { r.add(Severity::Error, "sb-geometry", w, std::move(msg)); };
    if (!pow2(sb.block_size) || sb.block_size < DMR_BLOCK_SIZE_MIN || sb.block_size > DMR_BLOCK_SIZE_MAX) {
        bad("block size " + num(sb.block_size) + " is not a power of two between 512 and 65536");
        return; // everything below is measured in blocks
    }
    const std::uint64_t bs = sb.block_size >> DMR_SECTOR_SHIFT;
    if (sb.md_offset != DMR_MD_OFFSET_SECTORS)
        bad("metadata area at sector " + num(sb.md_offset) + ", expected " + num(DMR_MD_OFFSET_SECTORS));
    bool md_ok = true;
    if (sb.max_entries < DMR_ENTRIES_PER_BLOCK || sb.max_entries > DMR_MAX_ENTRIES_LIMIT ||
        sb.max_entries % DMR_ENTRIES_PER_BLOCK) {
        bad("metadata capacity " + num(sb.max_entries) + " entries is not a multiple of 256 in [256, " +
            num(DMR_MAX_ENTRIES_LIMIT) + "]");
        md_ok = false;
    }
    if (sb.journal_blocks < DMR_JOURNAL_BLOCKS_MIN || sb.journal_blocks > DMR_JOURNAL_BLOCKS_MAX) {
        bad("journal of " + num(sb.journal_blocks) + " blocks is outside [" + num(DMR_JOURNAL_BLOCKS_MIN) + ", " +
            num(DMR_JOURNAL_BLOCKS_MAX) + "]");
        md_ok = false;
    }
    const unsigned copies = layout::md_copies(sb);
    if (md_ok && sb.md_sectors != layout::md_sectors(sb.max_entries, sb.journal_blocks, copies))
        bad("metadata area of " + num(sb.md_sectors) + " sectors does not match its capacity and journal (" +
            num(layout::md_sectors(sb.max_entries, sb.journal_blocks, copies)) + " for " + num(copies) +
            (copies == 1 ? " copy)" : " copies)"));
    // Fields are 64-bit and untrusted: compare ends with care for wrap-around.
    const std::uint64_t limit = std::uint64_t{1} << 56;
    if (sb.member_sectors >= limit || sb.md_sectors >= limit || sb.data_offset >= limit ||
        sb.data_sectors >= limit || sb.spare_offset >= limit || sb.spare_sectors >= limit) {
        bad("a size or offset exceeds 2^56 sectors");
        return;
    }
    const std::uint64_t md_end = sb.md_offset + sb.md_sectors;
    if (md_end > sb.member_sectors)
        bad("metadata area ends at sector " + num(md_end) + ", beyond the member (" + num(sb.member_sectors) + ")");
    if (sb.data_offset % DMR_AREA_ALIGN_SECTORS)
        bad("data offset " + num(sb.data_offset) + " is not 1 MiB aligned");
    if (!sb.data_sectors || sb.data_sectors % bs)
        bad("data length " + num(sb.data_sectors) + " sectors is not a positive multiple of the block size");
    if (sb.spare_sectors % bs)
        bad("spare area length " + num(sb.spare_sectors) + " sectors is not a multiple of the block size");
    if (layout::spare_blocks(sb.spare_sectors, sb.block_size) > 0xffffffffULL)
        bad("spare area has more than 2^32 blocks");
    if (sb.spare_sectors && sb.spare_offset % bs)
        bad("spare area offset " + num(sb.spare_offset) + " is not block aligned");
    if (overlaps(sb.md_offset, sb.md_sectors, sb.spare_offset, sb.spare_sectors) ||
        overlaps(0, DMR_MD_OFFSET_SECTORS, sb.spare_offset, sb.spare_sectors))
        r.add(Severity::Error, "sb-overlap", w, "spare area overlaps the superblocks or metadata");
    if (sb.spare_offset + sb.spare_sectors > sb.member_sectors)
        bad("spare area ends at sector " + num(sb.spare_offset + sb.spare_sectors) + ", beyond the member (" +
            num(sb.member_sectors) + ")");
    if (sb.role == Role::Data) {
        if (sb.data_offset < md_end)
            r.add(Severity::Error, "sb-overlap", w, "data area overlaps the metadata area");
        if (overlaps(sb.data_offset, sb.data_sectors, sb.spare_offset, sb.spare_sectors))
            r.add(Severity::Error, "sb-overlap", w, "data area overlaps the internal spare area");
        if (sb.data_offset + sb.data_sectors > sb.member_sectors)
            bad("data area ends at sector " + num(sb.data_offset + sb.data_sectors) + ", beyond the member (" +
                num(sb.member_sectors) + ")");
    } else if (sb.role == Role::Spare && !sb.spare_sectors) {
        bad("spare member has an empty spare area");
    }
    if (device_sectors && sb.member_sectors > device_sectors)
        r.add(Severity::Error, "sb-device-size", w,
              "device has " + num(device_sectors) + " sectors but the superblock records " +
                  num(sb.member_sectors));
}

} // namespace

bool valid_name(std::string_view name)
{
    if (name.empty() || name.size() >= DMR_NAME_LEN || name[0] == '.' || name[0] == '-')
        return false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == '.' || c == '+' || c == ':' || c == '@';
        if (!ok)
            return false;
    }
    return true;
}

Report superblock(ConstBlock raw, unsigned copy, std::uint64_t device_sectors, const std::string &w)
{
    Report r;
    const std::uint64_t m = codec::magic(raw);
    if (m != DMR_SB_MAGIC) {
        bool zero = true;
        for (auto b : raw)
            if (b) {
                zero = false;
                break;
            }
        r.add(Severity::Error, "sb-magic", w,
              zero ? "superblock copy " + num(copy) + " is empty"
                   : "superblock copy " + num(copy) + " has bad magic " + hex(m));
        return r; // not ours: nothing else is meaningful
    }
    if (codec::stored_csum(raw) != codec::block_csum(raw)) {
        r.add(Severity::Error, "sb-checksum", w,
              "superblock copy " + num(copy) + " checksum " + hex(codec::stored_csum(raw)) + " != computed " +
                  hex(codec::block_csum(raw)));
        return r; // contents are untrustworthy
    }
    const Superblock sb = codec::unpack_superblock(raw);
    if (sb.version < DMR_VERSION_MIN || sb.version > DMR_VERSION_MAX)
        r.add(Severity::Error, "sb-version", w,
              "format version " + num(sb.version) + " is not supported (supported: " + num(DMR_VERSION_MIN) + "-" +
                  num(DMR_VERSION_MAX) + ")");
    if (sb.incompat_flags & ~DMR_INCOMPAT_SUPP)
        r.add(Severity::Error, "sb-feature", w,
              "unknown incompatible features " + hex(sb.incompat_flags & ~DMR_INCOMPAT_SUPP));
    if (sb.ro_compat_flags & ~DMR_RO_COMPAT_SUPP)
        r.add(Severity::Warning, "sb-feature", w,
              "unknown read-only-compatible features " + hex(sb.ro_compat_flags & ~DMR_RO_COMPAT_SUPP) +
                  ": read-only use only");
    if (sb.sb_copy != copy || sb.sb_location != DMR_SB_SECTOR(copy))
        r.add(Severity::Error, "sb-location", w,
              "superblock copy " + num(copy) + " claims to be copy " + num(sb.sb_copy) + " at sector " +
                  num(sb.sb_location));
    if (sb.role != Role::Data && sb.role != Role::Spare)
        r.add(Severity::Error, "sb-role", w, "unknown member role " + num(static_cast<unsigned>(sb.role)));
    else if ((sb.role == Role::Data) != (sb.member_index == 0) || sb.member_index >= DMR_MAX_MEMBERS)
        r.add(Severity::Error, "sb-role", w,
              std::string(role_name(sb.role)) + " member has index " + num(sb.member_index));
    if (sb.set_uuid.is_nil() || sb.member_uuid.is_nil())
        r.add(Severity::Error, "sb-uuid", w, "set or member UUID is nil");
    if (!valid_name(sb.name))
        r.add(Severity::Error, "sb-name", w, "set name is empty or has characters not allowed in a device name");
    if (!sb.generation)
        r.add(Severity::Error, "sb-geometry", w, "generation 0 is never written");
    geometry(sb, device_sectors, r, w);
    return r;
}

Report members(std::span<const std::uint8_t> table, const Superblock &sb, const std::string &w)
{
    Report r;
    if (table.size() != DMR_MAX_MEMBERS * sizeof(dmr_member_disk)) {
        r.add(Severity::Error, "members", w, "member table has the wrong size");
        return r;
    }
    const std::uint64_t bs = sb.block_size >> DMR_SECTOR_SHIFT;
    std::set<Uuid> uuids;
    bool have_data = false;
    for (unsigned i = 0; i < DMR_MAX_MEMBERS; i++) {
        dmr_member_disk d;
        std::memcpy(&d, table.data() + i * sizeof d, sizeof d);
        const auto role = le16toh(d.role);
        const std::string mw = w + " member " + num(i);
        if (role == DMR_ROLE_NONE) {
            static const dmr_member_disk zero{};
            if (std::memcmp(&d, &zero, sizeof d))
                r.add(Severity::Error, "members", mw, "unused member record is not zeroed");
            continue;
        }
        if (role != DMR_ROLE_DATA && role != DMR_ROLE_SPARE) {
            r.add(Severity::Error, "members", mw, "unknown role " + num(role));
            continue;
        }
        if (le16toh(d.index) != i)
            r.add(Severity::Error, "members", mw, "record says index " + num(le16toh(d.index)));
        if ((role == DMR_ROLE_DATA) != (i == 0))
            r.add(Severity::Error, "members", mw, "index 0 must be the data member and only it");
        have_data |= role == DMR_ROLE_DATA;
        if (le32toh(d.flags) & ~DMR_MEMBER_F_ALL)
            r.add(Severity::Error, "members", mw, "unknown flags " + hex(le32toh(d.flags)));
        if (d.image_path[DMR_IMAGE_PATH_LEN - 1] != 0)
            r.add(Severity::Error, "members", mw, "image path is not NUL-terminated");
        if (!uuids.insert(Uuid(d.uuid)).second || Uuid(d.uuid).is_nil())
            r.add(Severity::Error, "members", mw, "member UUID is nil or listed twice");
        const std::uint64_t off = le64toh(d.spare_offset), len = le64toh(d.spare_sectors),
                            size = le64toh(d.member_sectors);
        if (len && (off % bs || len % bs || off < DMR_MD_OFFSET_SECTORS + sb.md_sectors || off > size ||
                    len > size - off || len / bs > 0xffffffffULL))
            r.add(Severity::Error, "members", mw, "spare area [" + num(off) + ", +" + num(len) +
                                                      ") is misaligned, overlaps metadata or exceeds the member");
        if (role == DMR_ROLE_SPARE && !len)
            r.add(Severity::Error, "members", mw, "spare member without a spare area");
    }
    if (!have_data)
        r.add(Severity::Error, "members", w, "member table has no data member");
    return r;
}

Report entries(const std::vector<Entry> &entries, const std::vector<Member> &members, const Superblock &sb,
               bool snapshot_order, const std::string &w)
{
    Report r;
    if (sb.block_size < DMR_BLOCK_SIZE_MIN)
        return r; // superblock already reported
    std::map<std::uint16_t, std::uint64_t> spare_blocks;
    std::set<std::uint16_t> failed;
    for (const auto &m : members) {
        spare_blocks[m.index] = layout::spare_blocks(m.spare_sectors, sb.block_size);
        if (m.failed())
            failed.insert(m.index);
    }
    const std::uint64_t data_blocks = layout::data_blocks(sb);
    std::set<std::uint64_t> seen_blocks;
    std::set<std::pair<std::uint16_t, std::uint32_t>> seen_spares;
    std::tuple<std::uint64_t, std::uint16_t, std::uint32_t> prev{0, 0, 0};
    std::size_t reported = 0;
    auto bad = [&](const char *code, std::size_t i, std::string msg) {
        // A corrupt table can hold a million bad entries; list the first few.
        if (++reported <= 16)
            r.add(Severity::Error, code, w + " entry " + num(i), std::move(msg));
    };
    for (std::size_t i = 0; i < entries.size(); i++) {
        const Entry &e = entries[i];
        const bool spare_needed = e.state == EntryState::Remapped || e.state == EntryState::Retired;
        switch (e.state) {
        case EntryState::Remapped:
        case EntryState::Pending:
            if (e.data_block >= data_blocks)
                bad("entry-range", i, "block " + num(e.data_block) + " is beyond the data area (" +
                                          num(data_blocks) + " blocks)");
            else if (!seen_blocks.insert(e.data_block).second)
                bad("entry-duplicate", i, "block " + num(e.data_block) + " is listed twice");
            break;
        case EntryState::Retired:
            if (e.data_block != kNoBlock)
                bad("entry-state", i, "retired spare location carries data block " + num(e.data_block));
            break;
        default:
            bad("entry-state", i, "unknown state " + num(static_cast<unsigned>(e.state)));
            continue;
        }
        if (spare_needed) {
            auto it = spare_blocks.find(e.spare_index);
            if (it == spare_blocks.end() || !it->second)
                bad("entry-range", i, "spare member " + num(e.spare_index) + " does not exist or has no spare area");
            else if (e.spare_block >= it->second)
                bad("entry-range", i, "spare block " + num(e.spare_block) + " is beyond member " +
                                          num(e.spare_index) + "'s spare area (" + num(it->second) + " blocks)");
            else if (!seen_spares.insert({e.spare_index, e.spare_block}).second)
                bad("entry-duplicate", i, "spare block " + num(e.spare_block) + " on member " + num(e.spare_index) +
                                              " is used twice");
            // Its entries turned pending (lost) when it failed; RETIRED ones may stay.
            else if (e.state == EntryState::Remapped && failed.count(e.spare_index))
                bad("entry-state", i, "block " + num(e.data_block) + " is remapped to member " +
                                          num(e.spare_index) + ", which has failed");
        } else if (e.spare_index != kNoMember) {
            bad("entry-state", i, "pending block " + num(e.data_block) + " carries a spare location");
        } else if (e.spare_block != DMR_PENDING_UNREADABLE && e.spare_block != DMR_PENDING_LOST) {
            bad("entry-state", i, "pending block " + num(e.data_block) + " has unknown reason " + num(e.spare_block));
        }
        std::tuple<std::uint64_t, std::uint16_t, std::uint32_t> key{e.data_block, e.spare_index, e.spare_block};
        if (snapshot_order && i && !(prev < key))
            bad("entry-order", i, "entries are not sorted");
        prev = key;
    }
    if (reported > 16)
        r.add(Severity::Error, "entries", w, num(reported - 16) + " more bad entries not listed");
    if (entries.size() > sb.max_entries)
        r.add(Severity::Error, "entry-capacity", w,
              num(entries.size()) + " entries exceed the capacity of " + num(sb.max_entries));
    return r;
}

} // namespace dmremap::validator
