// SPDX-License-Identifier: LGPL-2.1-or-later
// Where things live on a member, derived from its superblock.
#pragma once

#include "types.hpp"

#include <cstdint>

namespace dmremap::layout {

std::uint64_t slot_blocks(std::uint32_t max_entries);
// Blocks of one copy of the metadata area.
std::uint64_t md_blocks(std::uint32_t max_entries, std::uint32_t journal_blocks);
// Sectors of the whole metadata area (every copy), as md_sectors records it.
std::uint64_t md_sectors(std::uint32_t max_entries, std::uint32_t journal_blocks, unsigned copies);
// Copies of the metadata area the superblock's incompat flags call for (1 or 2).
unsigned md_copies(const Superblock &sb);

// Byte offsets on the member. `copy` picks the copy of the metadata area
// (0 .. md_copies(sb) - 1); each copy has the layout slot 0 | slot 1 | journal.
std::uint64_t sb_offset(unsigned copy);
std::uint64_t md_copy_offset(const Superblock &sb, unsigned copy);
std::uint64_t slot_offset(const Superblock &sb, unsigned slot, unsigned copy);
std::uint64_t members_offset(const Superblock &sb, unsigned slot, unsigned copy);
std::uint64_t entries_offset(const Superblock &sb, unsigned slot, unsigned copy);
std::uint64_t journal_offset(const Superblock &sb, std::uint64_t seq, unsigned copy);
std::uint64_t journal_start(const Superblock &sb, unsigned copy);

std::uint64_t block_sectors(const Superblock &sb);
std::uint64_t data_blocks(const Superblock &sb);
std::uint64_t spare_blocks(std::uint64_t spare_sectors, std::uint32_t block_size);

std::uint64_t align_up(std::uint64_t v, std::uint64_t a);
std::uint64_t align_down(std::uint64_t v, std::uint64_t a);

} // namespace dmremap::layout
