// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include "types.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace dmremap {

// The whole logical state of a set: what a snapshot stores and what
// journal records modify. The spare allocator is derived from it, never
// stored, so it can never disagree with the entries.
class RemapState {
public:
    Uuid set_uuid;
    std::uint64_t seq = 0;        // last commit included
    std::uint64_t generation = 0; // set configuration generation
    std::vector<Member> members;  // sorted by index

    // Applies one journal update; returns an empty string or why it
    // cannot apply (the record is then damaged).
    std::string apply(const Entry &update);
    // Loads snapshot entries (already validated).
    void assign(const std::vector<Entry> &entries);

    std::vector<Entry> entries() const; // snapshot order
    std::size_t size() const { return blocks_.size() + retired_.size(); }
    std::size_t count(EntryState s) const;
    const Entry *find(std::uint64_t data_block) const;
    const Member *member(std::uint16_t index) const;

    bool operator==(const RemapState &o) const;

private:
    std::map<std::uint64_t, Entry> blocks_;                     // remapped and pending
    std::set<std::pair<std::uint16_t, std::uint32_t>> retired_; // bad spare locations
};

} // namespace dmremap
