// SPDX-License-Identifier: LGPL-2.1-or-later
#include "layout.hpp"

#include "codec.hpp"

#include <dm-remap-format.h>

namespace dmremap::layout {

std::uint64_t slot_blocks(std::uint32_t max_entries) { return DMR_SLOT_BLOCKS(std::uint64_t{max_entries}); }

std::uint64_t md_blocks(std::uint32_t max_entries, std::uint32_t journal_blocks)
{
    return 2 * slot_blocks(max_entries) + journal_blocks;
}

std::uint64_t md_sectors(std::uint32_t max_entries, std::uint32_t journal_blocks, unsigned copies)
{
    return copies * md_blocks(max_entries, journal_blocks) * DMR_MD_BLOCK_SECTORS;
}

unsigned md_copies(const Superblock &sb) { return DMR_MD_COPIES(sb.incompat_flags); }

std::uint64_t sb_offset(unsigned copy) { return DMR_SB_SECTOR(copy) << DMR_SECTOR_SHIFT; }

std::uint64_t md_copy_offset(const Superblock &sb, unsigned copy)
{
    return (sb.md_offset + copy * (sb.md_sectors / md_copies(sb))) << DMR_SECTOR_SHIFT;
}

std::uint64_t slot_offset(const Superblock &sb, unsigned slot, unsigned copy)
{
    return md_copy_offset(sb, copy) + slot * slot_blocks(sb.max_entries) * kBlock;
}

std::uint64_t members_offset(const Superblock &sb, unsigned slot, unsigned copy)
{
    return slot_offset(sb, slot, copy) + kBlock;
}

std::uint64_t entries_offset(const Superblock &sb, unsigned slot, unsigned copy)
{
    return slot_offset(sb, slot, copy) + (1 + DMR_MEMBER_TABLE_BLOCKS) * kBlock;
}

std::uint64_t journal_start(const Superblock &sb, unsigned copy) { return slot_offset(sb, 2, copy); }

std::uint64_t journal_offset(const Superblock &sb, std::uint64_t seq, unsigned copy)
{
    return journal_start(sb, copy) + (seq % sb.journal_blocks) * kBlock;
}

std::uint64_t block_sectors(const Superblock &sb) { return sb.block_size >> DMR_SECTOR_SHIFT; }

std::uint64_t data_blocks(const Superblock &sb) { return sb.data_sectors / block_sectors(sb); }

std::uint64_t spare_blocks(std::uint64_t spare_sectors, std::uint32_t block_size)
{
    return spare_sectors / (block_size >> DMR_SECTOR_SHIFT);
}

std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }
std::uint64_t align_down(std::uint64_t v, std::uint64_t a) { return v / a * a; }

} // namespace dmremap::layout
