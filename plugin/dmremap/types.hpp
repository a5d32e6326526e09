// SPDX-License-Identifier: LGPL-2.1-or-later
// Native (host-order, validated) forms of the on-disk structures in
// kernel/dm-remap-format.h. Codec converts between the two.
#pragma once

#include "uuid.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace dmremap {

enum class Role : std::uint16_t { None = 0, Data = 1, Spare = 2 };
enum class EntryState : std::uint16_t { Free = 0, Remapped = 1, Pending = 2, Retired = 3 };

const char *role_name(Role r) noexcept;
const char *state_name(EntryState s) noexcept;

inline constexpr std::uint64_t kNoBlock = ~std::uint64_t{0};
inline constexpr std::uint16_t kNoMember = 0xffff;

struct Superblock {
    std::uint32_t version = 0;
    std::uint32_t compat_flags = 0;
    std::uint32_t ro_compat_flags = 0;
    std::uint32_t incompat_flags = 0;
    std::uint32_t block_size = 0;
    Uuid set_uuid;
    Uuid member_uuid;
    Role role = Role::None;
    std::uint16_t member_index = 0;
    std::uint32_t sb_copy = 0;
    std::uint64_t sb_location = 0;
    std::uint64_t generation = 0;
    std::uint64_t ctime = 0;
    std::uint64_t member_sectors = 0;
    std::uint64_t md_offset = 0;
    std::uint64_t md_sectors = 0;
    std::uint32_t max_entries = 0;
    std::uint32_t journal_blocks = 0;
    std::uint64_t data_offset = 0;
    std::uint64_t data_sectors = 0;
    std::uint64_t spare_offset = 0;
    std::uint64_t spare_sectors = 0;
    std::string name;

    bool operator==(const Superblock &) const = default;
};

// One record of the member table carried by every snapshot.
struct Member {
    Uuid uuid;
    Role role = Role::None;
    std::uint16_t index = 0;
    std::uint32_t flags = 0;
    std::uint64_t member_sectors = 0;
    std::uint64_t spare_offset = 0;
    std::uint64_t spare_sectors = 0;
    std::string image_path;

    bool failed() const noexcept; // DMR_MEMBER_F_FAILED: left out of the set while it ran

    bool operator==(const Member &) const = default;
};

struct Entry {
    std::uint64_t data_block = kNoBlock;
    std::uint32_t spare_block = 0;
    std::uint16_t spare_index = kNoMember;
    EntryState state = EntryState::Free;

    // A pending entry whose latest data lived on a spare block or member
    // that failed (DMR_PENDING_LOST): the data device holds an older
    // version, so only a write clears it.
    bool lost() const noexcept;

    bool operator==(const Entry &) const = default;
};

struct SnapshotHeader {
    std::uint32_t slot = 0;
    Uuid set_uuid;
    std::uint64_t seq = 0;
    std::uint64_t generation = 0;
    std::uint32_t nr_entries = 0;
    std::uint32_t entries_csum = 0;
    std::uint32_t members_csum = 0;
};

struct JournalRecord {
    Uuid set_uuid;
    std::uint64_t seq = 0;
    std::uint64_t generation = 0;
    std::vector<Entry> updates;
};

} // namespace dmremap
