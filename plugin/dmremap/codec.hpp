// SPDX-License-Identifier: LGPL-2.1-or-later
// pack/unpack between native types and the on-disk byte images.
// unpack never fails: it decodes whatever is there; Validator judges it.
#pragma once

#include "types.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace dmremap {

inline constexpr std::size_t kBlock = 4096; // DMR_MD_BLOCK_SIZE

using Block = std::span<std::uint8_t, kBlock>;
using ConstBlock = std::span<const std::uint8_t, kBlock>;

namespace codec {

// Checksum of a block whose csum field sits at byte 8, computed with it zeroed.
std::uint32_t block_csum(ConstBlock b);
std::uint32_t stored_csum(ConstBlock b);
std::uint64_t magic(ConstBlock b);

void pack(const Superblock &sb, Block out); // fills csum
Superblock unpack_superblock(ConstBlock in);

void pack(const SnapshotHeader &h, Block out); // fills csum
SnapshotHeader unpack_snapshot(ConstBlock in);

// The 16 KiB member table: members are placed at their index.
std::vector<std::uint8_t> pack_members(const std::vector<Member> &members);
std::vector<Member> unpack_members(std::span<const std::uint8_t> table); // non-empty slots only

// Entry table: nr entries, 16 bytes each.
std::vector<std::uint8_t> pack_entries(const std::vector<Entry> &entries);
std::vector<Entry> unpack_entries(std::span<const std::uint8_t> bytes);

void pack(const JournalRecord &r, Block out); // fills csum; at most 252 updates
JournalRecord unpack_journal(ConstBlock in);  // nr_updates clamped to 252

} // namespace codec
} // namespace dmremap
