// SPDX-License-Identifier: LGPL-2.1-or-later
// Structure-level validation. Every function reports all problems it sees
// (never stops at the first) and never trusts a field before checking it.
#pragma once

#include "codec.hpp"
#include "report.hpp"
#include "types.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dmremap::validator {

// A set name doubles as the /dev/mapper name and is printed into udev
// KEY=VALUE lines, so it is restricted to characters safe in both.
bool valid_name(std::string_view name);
// What valid_name accepts, for error messages.
inline constexpr const char *kNameRules = "1-127 of A-Z a-z 0-9 _ - . + : @, not starting with . or -";

// device_sectors: real size of the member, 0 when unknown.
Report superblock(ConstBlock raw, unsigned copy, std::uint64_t device_sectors, const std::string &where);

// The raw 16 KiB member table of a snapshot, judged against the reader's superblock.
Report members(std::span<const std::uint8_t> table, const Superblock &sb, const std::string &where);

// Entries of a state. `snapshot_order`: must be sorted by (data_block, spare) and
// so unique, as a snapshot stores them.
Report entries(const std::vector<Entry> &entries, const std::vector<Member> &members, const Superblock &sb,
               bool snapshot_order, const std::string &where);

} // namespace dmremap::validator
