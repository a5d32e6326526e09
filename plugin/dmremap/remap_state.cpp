// SPDX-License-Identifier: LGPL-2.1-or-later
#include "remap_state.hpp"

#include <algorithm>

namespace dmremap {

std::string RemapState::apply(const Entry &u)
{
    switch (u.state) {
    case EntryState::Free:
        if (!blocks_.erase(u.data_block))
            return "frees block " + std::to_string(u.data_block) + " which has no entry";
        return {};
    case EntryState::Remapped:
    case EntryState::Pending:
        if (u.data_block == kNoBlock)
            return "updates block -1";
        blocks_[u.data_block] = u;
        return {};
    case EntryState::Retired:
        if (!retired_.insert({u.spare_index, u.spare_block}).second)
            return "retires a spare block twice";
        return {};
    }
    return "unknown update state " + std::to_string(static_cast<unsigned>(u.state));
}

void RemapState::assign(const std::vector<Entry> &entries)
{
    blocks_.clear();
    retired_.clear();
    for (const auto &e : entries) {
        if (e.state == EntryState::Retired)
            retired_.insert({e.spare_index, e.spare_block});
        else
            blocks_[e.data_block] = e;
    }
}

std::vector<Entry> RemapState::entries() const
{
    std::vector<Entry> out;
    out.reserve(size());
    for (const auto &[block, e] : blocks_)
        out.push_back(e);
    for (const auto &[idx, blk] : retired_)
        out.push_back(Entry{kNoBlock, blk, idx, EntryState::Retired});
    return out;
}

std::size_t RemapState::count(EntryState s) const
{
    if (s == EntryState::Retired)
        return retired_.size();
    return static_cast<std::size_t>(
        std::count_if(blocks_.begin(), blocks_.end(), [&](const auto &kv) { return kv.second.state == s; }));
}

const Entry *RemapState::find(std::uint64_t data_block) const
{
    auto it = blocks_.find(data_block);
    return it == blocks_.end() ? nullptr : &it->second;
}

const Member *RemapState::member(std::uint16_t index) const
{
    for (const auto &m : members)
        if (m.index == index)
            return &m;
    return nullptr;
}

bool RemapState::operator==(const RemapState &o) const
{
    return set_uuid == o.set_uuid && seq == o.seq && generation == o.generation && members == o.members &&
           blocks_ == o.blocks_ && retired_ == o.retired_;
}

} // namespace dmremap
