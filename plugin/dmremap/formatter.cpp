// SPDX-License-Identifier: LGPL-2.1-or-later
#include "formatter.hpp"

#include "error.hpp"
#include "layout.hpp"
#include "metadata_area.hpp"
#include "validator.hpp"

#include <dm-remap-format.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>

namespace dmremap {
namespace {

constexpr std::uint64_t MiB = 1024 * 1024;

std::string size_str(std::uint64_t bytes)
{
    char buf[64];
    if (bytes >= 10 * MiB)
        std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / double(MiB));
    else
        std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
    return buf;
}

std::uint64_t now()
{
    if (const char *e = std::getenv("SOURCE_DATE_EPOCH"))
        return std::strtoull(e, nullptr, 10);
    return static_cast<std::uint64_t>(std::time(nullptr));
}

std::uint64_t default_spare(const FormatOptions &o, std::uint64_t device_bytes)
{
    if (o.internal_spare)
        return *o.internal_spare;
    if (o.internal_spare_percent)
        return device_bytes / 100 * *o.internal_spare_percent;
    return Formatter::default_internal_spare(device_bytes);
}

// The data member of a set whose data length is given (a replacement
// disk): the data area is exactly that long, the internal spare is what
// follows it, up to the size asked for.
void plan_fixed_data(const FormatOptions &o, BlockIo &io, std::uint64_t area_start, Superblock &sb)
{
    const std::uint64_t sectors = io.size_bytes() >> DMR_SECTOR_SHIFT;
    const std::uint64_t data = *o.data_sectors;
    if (data == 0 || data % (o.block_size >> DMR_SECTOR_SHIFT))
        throw Error(Error::Code::InvalidArgument, "data length of " + std::to_string(data) +
                                                      " sectors is not a whole number of blocks");
    if (sectors < area_start || sectors - area_start < data)
        throw Error(Error::Code::NoSpace,
                    io.name() + ": too small: " + size_str(io.size_bytes()) + " holds " +
                        size_str(area_start << DMR_SECTOR_SHIFT) + " of metadata and needs " +
                        size_str(data << DMR_SECTOR_SHIFT) + " for the data area (needs at least " +
                        size_str((area_start + data) << DMR_SECTOR_SHIFT) + ")");
    sb.data_offset = area_start;
    sb.data_sectors = data;
    const std::uint64_t spare_start = layout::align_up(area_start + data, DMR_AREA_ALIGN_SECTORS);
    const std::uint64_t room =
        sectors > spare_start ? layout::align_down(sectors - spare_start, DMR_AREA_ALIGN_SECTORS) : 0;
    const std::uint64_t want =
        layout::align_up(default_spare(o, io.size_bytes()) >> DMR_SECTOR_SHIFT, DMR_AREA_ALIGN_SECTORS);
    sb.spare_sectors = std::min(room, want);
    sb.spare_offset = sb.spare_sectors ? spare_start : 0;
    if (layout::spare_blocks(sb.spare_sectors, o.block_size) > 0xffffffffULL)
        throw Error(Error::Code::InvalidArgument, io.name() + ": internal spare area has more than 2^32 blocks");
}

} // namespace

std::uint64_t Formatter::default_internal_spare(std::uint64_t device_bytes)
{
    return std::clamp<std::uint64_t>(device_bytes / 100, 4 * MiB, 1024 * MiB);
}

void Formatter::check_options(const FormatOptions &o)
{
    using E = Error::Code;
    const std::uint32_t bs = o.block_size;
    if (bs < DMR_BLOCK_SIZE_MIN || bs > DMR_BLOCK_SIZE_MAX || (bs & (bs - 1)))
        throw Error(E::InvalidArgument,
                    "block size " + std::to_string(bs) + " is not a power of two between 512 and 65536");
    if (o.max_entries < DMR_ENTRIES_PER_BLOCK || o.max_entries > DMR_MAX_ENTRIES_LIMIT)
        throw Error(E::InvalidArgument, "remap capacity must be between 256 and " +
                                            std::to_string(DMR_MAX_ENTRIES_LIMIT) + " entries");
    if (o.journal_blocks < DMR_JOURNAL_BLOCKS_MIN || o.journal_blocks > DMR_JOURNAL_BLOCKS_MAX)
        throw Error(E::InvalidArgument, "journal size out of range");
    if (!o.name.empty() && !validator::valid_name(o.name))
        throw Error(E::InvalidArgument,
                    "set name '" + o.name + "' is not a valid device name (" + validator::kNameRules + ")");
    if (o.internal_spare_percent && *o.internal_spare_percent > 50)
        throw Error(E::InvalidArgument, "internal spare of " + std::to_string(*o.internal_spare_percent) +
                                            "% is above 50% of the data device");
    if (o.internal_spare_percent && o.internal_spare)
        throw Error(E::InvalidArgument, "internal spare given both in bytes and as a percentage");
}

FormatPlan Formatter::plan(const FormatOptions &o, const std::vector<BlockIo *> &members)
{
    using E = Error::Code;
    if (members.empty())
        throw Error(E::InvalidArgument, "no data device given");
    if (members.size() > DMR_MAX_MEMBERS)
        throw Error(E::InvalidArgument, "at most " + std::to_string(DMR_MAX_MEMBERS - 1) + " spare devices");
    check_options(o);
    const std::uint32_t bs = o.block_size;
    const std::uint32_t max_entries = static_cast<std::uint32_t>(layout::align_up(o.max_entries, DMR_ENTRIES_PER_BLOCK));
    const Uuid set = o.set_uuid ? *o.set_uuid : Uuid::random();
    const std::string name = o.name.empty() ? "remap-" + set.str().substr(0, 8) : o.name;
    if (!validator::valid_name(name))
        throw Error(E::InvalidArgument,
                    "set name '" + name + "' is not a valid device name (" + validator::kNameRules + ")");
    const std::uint64_t bs_sect = bs >> DMR_SECTOR_SHIFT;
    const std::uint32_t incompat = o.md_mirror ? DMR_INCOMPAT_MD_MIRROR : 0;
    const std::uint64_t md_sectors = layout::md_sectors(max_entries, o.journal_blocks, DMR_MD_COPIES(incompat));
    const std::uint64_t md_end = DMR_MD_OFFSET_SECTORS + md_sectors;
    const std::uint64_t area_start = layout::align_up(md_end, DMR_AREA_ALIGN_SECTORS);

    FormatPlan p;
    p.state.set_uuid = set;
    p.state.seq = 1;
    p.state.generation = 1;
    for (std::size_t i = 0; i < members.size(); i++) {
        BlockIo &io = *members[i];
        if (io.logical_block_size() > bs)
            throw Error(E::InvalidArgument, io.name() + ": logical block size " +
                                                std::to_string(io.logical_block_size()) +
                                                " is larger than the remap block size " + std::to_string(bs));
        const std::uint64_t sectors = io.size_bytes() >> DMR_SECTOR_SHIFT;
        Superblock sb;
        sb.version = DMR_VERSION;
        sb.incompat_flags = incompat;
        sb.block_size = bs;
        sb.set_uuid = set;
        sb.member_uuid = Uuid::random();
        sb.role = i == 0 ? Role::Data : Role::Spare;
        sb.member_index = static_cast<std::uint16_t>(i);
        sb.generation = 1;
        sb.ctime = o.ctime ? o.ctime : now();
        sb.member_sectors = sectors;
        sb.md_offset = DMR_MD_OFFSET_SECTORS;
        sb.md_sectors = md_sectors;
        sb.max_entries = max_entries;
        sb.journal_blocks = o.journal_blocks;
        sb.name = name;
        const std::uint64_t need = (area_start + DMR_AREA_ALIGN_SECTORS) << DMR_SECTOR_SHIFT;
        sb.compat_flags = o.compat_flags;
        if (i == 0 && o.data_sectors) {
            plan_fixed_data(o, io, area_start, sb);
        } else if (i == 0) {
            const std::uint64_t spare_bytes = default_spare(o, io.size_bytes());
            const std::uint64_t spare = layout::align_up(spare_bytes >> DMR_SECTOR_SHIFT, DMR_AREA_ALIGN_SECTORS);
            if (sectors < area_start || sectors - area_start < spare + DMR_AREA_ALIGN_SECTORS)
                throw Error(E::NoSpace, io.name() + ": too small: " + size_str(io.size_bytes()) + " holds " +
                                            size_str(area_start << DMR_SECTOR_SHIFT) + " of metadata, " +
                                            size_str(spare << DMR_SECTOR_SHIFT) +
                                            " of internal spare and needs at least 1 MiB of data (needs " +
                                            size_str(need + (spare << DMR_SECTOR_SHIFT)) + ")");
            sb.data_offset = area_start;
            if (spare) {
                sb.spare_sectors = spare;
                sb.spare_offset = layout::align_down(sectors - spare, DMR_AREA_ALIGN_SECTORS);
                sb.data_sectors = sb.spare_offset - area_start;
            } else {
                sb.data_sectors = layout::align_down(sectors - area_start, bs_sect);
            }
            if (layout::spare_blocks(sb.spare_sectors, bs) > 0xffffffffULL)
                throw Error(E::InvalidArgument, io.name() + ": internal spare area has more than 2^32 blocks");
        } else {
            if (sectors < area_start + DMR_AREA_ALIGN_SECTORS)
                throw Error(E::NoSpace, io.name() + ": too small for a spare: " + size_str(io.size_bytes()) +
                                            ", needs at least " + size_str(need));
            sb.spare_offset = area_start;
            sb.spare_sectors =
                std::min<std::uint64_t>(layout::align_down(sectors - area_start, bs_sect), 0xffffffffULL * bs_sect);
        }
        p.superblocks.push_back(sb);
        Member m;
        m.uuid = sb.member_uuid;
        m.role = sb.role;
        m.index = sb.member_index;
        m.member_sectors = sectors;
        m.spare_offset = sb.spare_offset;
        m.spare_sectors = sb.spare_sectors;
        p.state.members.push_back(m);
    }
    for (auto &sb : p.superblocks) {
        sb.data_offset = p.superblocks[0].data_offset;
        sb.data_sectors = p.superblocks[0].data_sectors;
    }
    return p;
}

void Formatter::write(const FormatPlan &plan, const std::vector<BlockIo *> &members)
{
    const std::vector<std::uint8_t> zero(2 * kBlock, 0);
    for (std::size_t i = 0; i < members.size(); i++) {
        BlockIo &io = *members[i];
        const Superblock &sb = plan.superblocks[i];
        // Old superblocks go first: a crash mid-format leaves a non-member,
        // never a member whose metadata belongs to something else.
        io.write(0, zero);
        io.flush();
        MetadataArea area(io, sb, io.name());
        for (unsigned c = 0; c < layout::md_copies(sb); c++)
            io.write(layout::slot_offset(sb, 1, c), std::span(zero).first(kBlock));
        area.clear_journal();
        area.write_snapshot(plan.state, 0);
        area.write_superblocks(sb);
    }
}

} // namespace dmremap
