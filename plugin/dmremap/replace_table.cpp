// SPDX-License-Identifier: LGPL-2.1-or-later
#include "replace_table.hpp"

#include <algorithm>
#include <set>
#include <sstream>

namespace dmremap {

void Extents::add(std::uint64_t start, std::uint64_t end)
{
    if (start >= end)
        return;
    auto it = r_.upper_bound(start);
    if (it != r_.begin() && std::prev(it)->second >= start)
        --it;
    while (it != r_.end() && it->first <= end) {
        start = std::min(start, it->first);
        end = std::max(end, it->second);
        it = r_.erase(it);
    }
    r_.emplace(start, end);
}

void Extents::remove(std::uint64_t start, std::uint64_t end)
{
    if (start >= end)
        return;
    auto it = r_.upper_bound(start);
    if (it != r_.begin())
        --it;
    while (it != r_.end() && it->first < end) {
        const auto [s, e] = *it;
        if (e <= start) {
            ++it;
            continue;
        }
        it = r_.erase(it);
        if (s < start)
            r_.emplace(s, start);
        if (e > end)
            r_.emplace(end, e);
    }
}

bool Extents::contains(std::uint64_t sector) const
{
    auto it = r_.upper_bound(sector);
    return it != r_.begin() && std::prev(it)->second > sector;
}

Extents Extents::intersect(const Extents &o) const
{
    Extents out;
    for (const auto &[s, e] : r_) {
        auto it = o.r_.upper_bound(s);
        if (it != o.r_.begin())
            --it;
        for (; it != o.r_.end() && it->first < e; ++it)
            out.add(std::max(s, it->first), std::min(e, it->second));
    }
    return out;
}

std::uint64_t Extents::total() const
{
    std::uint64_t t = 0;
    for (const auto &[s, e] : r_)
        t += e - s;
    return t;
}

std::uint64_t ReplaceTable::region_sectors(std::uint64_t length)
{
    std::uint64_t r = 4096;
    while (r > length && r > 2)
        r >>= 1;
    return r;
}

std::vector<DmTarget> ReplaceTable::build(const ReplaceGeometry &g, const Extents &copied, const Extents &copying,
                                          const Extents &held)
{
    enum class Kind { Linear, Synced, Copying };
    std::set<std::uint64_t> cuts{0, g.data_sectors};
    for (const Extents *x : {&copied, &copying, &held})
        for (const auto &[s, e] : x->ranges()) {
            cuts.insert(std::min(s, g.data_sectors));
            cuts.insert(std::min(e, g.data_sectors));
        }
    std::vector<std::pair<Kind, std::pair<std::uint64_t, std::uint64_t>>> pieces;
    for (auto it = cuts.begin(); std::next(it) != cuts.end(); ++it) {
        const std::uint64_t s = *it, e = *std::next(it);
        const Kind k = held.contains(s)      ? Kind::Linear
                       : copied.contains(s)  ? Kind::Synced
                       : copying.contains(s) ? Kind::Copying
                                             : Kind::Linear;
        if (!pieces.empty() && pieces.back().first == k && pieces.back().second.second == s)
            pieces.back().second.second = e;
        else
            pieces.push_back({k, {s, e}});
    }
    std::vector<DmTarget> out;
    for (const auto &[k, r] : pieces) {
        const auto [s, e] = r;
        DmTarget t{s, e - s, k == Kind::Linear ? "linear" : "mirror", ""};
        if (k == Kind::Linear) {
            t.params = g.source + " " + std::to_string(s);
        } else {
            // A core log: no log device, and the copy starts over if the
            // table is loaded again (the old disk holds everything meanwhile).
            // Without handle_errors dm-mirror's copy ignores a failed write
            // to the new disk and counts the region in sync, and a user
            // write that fails on one disk is acknowledged from the other.
            // With it, such a write waits for us: we stop the replace with
            // a noflush suspend, which gives it to the old set's table.
            t.params = "core " + std::string(k == Kind::Synced ? "2 " : "1 ") +
                       std::to_string(region_sectors(e - s)) + (k == Kind::Synced ? " nosync" : "") + " 2 " +
                       g.source + " " + std::to_string(s) + " " + g.target + " " +
                       std::to_string(g.target_offset + s) + " 1 handle_errors";
        }
        out.push_back(std::move(t));
    }
    return out;
}

std::optional<MirrorStatus> parse_mirror_status(const std::string &params)
{
    // "<#legs> <leg>... <in sync>/<regions> 1 <health> <log status>"
    std::istringstream in(params);
    unsigned legs = 0;
    if (!(in >> legs) || legs == 0 || legs > 32)
        return std::nullopt;
    std::string tok;
    for (unsigned i = 0; i < legs; i++)
        if (!(in >> tok))
            return std::nullopt;
    MirrorStatus st;
    char slash = 0;
    unsigned nhealth = 0;
    if (!(in >> st.in_sync >> slash >> st.regions) || slash != '/' || !(in >> nhealth >> st.health) ||
        st.health.size() != legs || st.in_sync > st.regions)
        return std::nullopt;
    return st;
}

} // namespace dmremap
