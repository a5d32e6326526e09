// SPDX-License-Identifier: LGPL-2.1-or-later
#include "target_status.hpp"

#include "error.hpp"

#include <charconv>
#include <set>

namespace dmremap {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep)
{
    std::vector<std::string_view> out;
    while (!s.empty()) {
        const auto n = s.find(sep);
        if (n)
            out.push_back(s.substr(0, n));
        if (n == std::string_view::npos)
            break;
        s.remove_prefix(n + 1);
    }
    return out;
}

std::vector<std::string_view> words(std::string_view s)
{
    std::vector<std::string_view> out;
    for (auto w : split(s, ' '))
        for (auto t : split(w, '\t'))
            out.push_back(t);
    return out;
}

Error bad(std::string_view what, std::string_view token)
{
    return Error(Error::Code::InvalidArgument, "cannot read " + std::string(what) + " '" + std::string(token) + "'");
}

template <typename T> T number(std::string_view s, std::string_view what)
{
    T v{};
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty())
        throw bad(what, s);
    return v;
}

bool flag(std::string_view s, std::string_view what)
{
    if (s == "0" || s == "1")
        return s == "1";
    throw bad(what, s);
}

// "key=value" into its two halves.
std::pair<std::string_view, std::string_view> key_value(std::string_view token, std::string_view what)
{
    const auto eq = token.find('=');
    if (eq == std::string_view::npos || !eq)
        throw bad(what, token);
    return {token.substr(0, eq), token.substr(eq + 1)};
}

// "<index>:<rest>" of a per-member list into its two halves.
std::pair<std::uint16_t, std::string_view> indexed(std::string_view s, std::string_view what)
{
    const auto colon = s.find(':');
    if (colon == std::string_view::npos)
        throw bad(what, s);
    return {number<std::uint16_t>(s.substr(0, colon), std::string(what) + " index"), s.substr(colon + 1)};
}

SpareUse spare_use(std::string_view s)
{
    SpareUse u;
    const auto [index, rest] = indexed(s, "spare");
    u.index = index;
    if (rest == "missing") {
        u.missing = true;
        return u;
    }
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos)
        throw bad("spare", s);
    u.used = number<std::uint32_t>(rest.substr(0, slash), "spare use");
    u.total = number<std::uint32_t>(rest.substr(slash + 1), "spare total");
    return u;
}

MemberState member_state(std::string_view s)
{
    MemberState m;
    const auto [index, state] = indexed(s, "member");
    m.index = index;
    if (state == "ok")
        m.health = MemberHealth::Ok;
    else if (state == "failed")
        m.health = MemberHealth::Failed;
    else if (state == "missing")
        m.health = MemberHealth::Missing;
    else
        throw bad("member state", s);
    return m;
}

} // namespace

const char *member_health_name(MemberHealth h) noexcept
{
    switch (h) {
    case MemberHealth::Ok: return "ok";
    case MemberHealth::Failed: return "failed";
    case MemberHealth::Missing: return "missing";
    case MemberHealth::Gone: return "gone";
    }
    return "unknown";
}

std::size_t TargetStatus::count(MemberHealth h) const
{
    std::size_t n = 0;
    for (const auto &m : members)
        n += m.health == h;
    return n;
}

TargetStatus parse_status(std::string_view info)
{
    TargetStatus st;
    std::set<std::string, std::less<>> seen;
    for (auto token : words(info)) {
        const auto [k, v] = key_value(token, "status token");
        if (!seen.emplace(k).second)
            throw bad("repeated status key", k);
        if (k == "metadata") {
            if (v != "ok" && v != "degraded")
                throw bad("metadata state", v);
            st.metadata_ok = v == "ok";
        } else if (k == "block_size") {
            st.block_size = number<std::uint32_t>(v, k);
        } else if (k == "remapped") {
            st.remapped = number<std::uint64_t>(v, k);
        } else if (k == "pending") {
            st.pending = number<std::uint64_t>(v, k);
        } else if (k == "spare_used") {
            st.spare_used = number<std::uint64_t>(v, k);
        } else if (k == "spare_total") {
            st.spare_total = number<std::uint64_t>(v, k);
        } else if (k == "read_errors") {
            st.read_errors = number<std::uint64_t>(v, k);
        } else if (k == "write_errors") {
            st.write_errors = number<std::uint64_t>(v, k);
        } else if (k == "remap_events") {
            st.remap_events = number<std::uint64_t>(v, k);
        } else if (k == "healed") {
            st.healed = number<std::uint64_t>(v, k);
        } else if (k == "exhausted") {
            st.exhausted = flag(v, k);
        } else if (k == "degraded") {
            st.degraded = flag(v, k);
        } else if (k == "unavailable") {
            st.unavailable = number<std::uint64_t>(v, k);
        } else if (k == "seq") {
            st.seq = number<std::uint64_t>(v, k);
        } else if (k == "spares") {
            for (auto s : split(v, ','))
                st.spares.push_back(spare_use(s));
        } else if (k == "members") {
            std::set<std::uint16_t> indexes;
            for (auto s : split(v, ',')) {
                st.members.push_back(member_state(s));
                if (!indexes.insert(st.members.back().index).second)
                    throw bad("repeated member", s);
            }
        } else {
            st.other.emplace(k, v);
        }
    }
    for (const char *k : {"metadata", "block_size", "remapped", "pending", "spares"})
        if (!seen.count(k))
            throw Error(Error::Code::InvalidArgument,
                        "status line lacks '" + std::string(k) + "=': not a dm-remap target?");
    return st;
}

std::vector<SpareStat> parse_spare_stats(std::string_view text)
{
    std::vector<SpareStat> out;
    for (auto line : split(text, '\n')) {
        const auto w = words(line);
        if (w.empty())
            continue;
        SpareStat s;
        s.device = std::string(w[0]);
        std::set<std::string, std::less<>> seen;
        for (std::size_t i = 1; i < w.size(); i++) {
            const auto [k, v] = key_value(w[i], "spare_stats token");
            seen.emplace(k);
            if (k == "index")
                s.index = number<std::uint16_t>(v, k);
            else if (k == "total")
                s.total = number<std::uint32_t>(v, k);
            else if (k == "used" && v != "-")
                s.used = number<std::uint32_t>(v, k);
            else if (k == "free" && v != "-")
                s.free = number<std::uint32_t>(v, k);
            else if (k == "live")
                s.live = number<std::uint32_t>(v, k);
            else if (k == "state")
                s.state = std::string(v);
        }
        for (const char *k : {"index", "total", "state"})
            if (!seen.count(k))
                throw bad("spare_stats line", line);
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<RemapEntryInfo> parse_list_remaps(std::string_view text)
{
    std::vector<RemapEntryInfo> out;
    for (auto line : split(text, '\n')) {
        const auto w = words(line);
        if (w.empty())
            continue;
        if (w.size() < 3)
            throw bad("list_remaps line", line);
        RemapEntryInfo e;
        e.block = number<std::uint64_t>(w[0], "block");
        // A lost block: "pending - lost" (the form of "remapped ... missing"),
        // or "pending lost".
        if (w[1] == "pending" && ((w[2] == "-" && (w.size() == 3 || (w.size() == 4 && w[3] == "lost"))) ||
                                  (w[2] == "lost" && w.size() == 3))) {
            e.pending = true;
            e.lost = w.back() == "lost";
        } else if (w[1] == "remapped" && (w.size() == 3 || (w.size() == 4 && w[3] == "missing"))) {
            const auto colon = w[2].find(':');
            if (colon == std::string_view::npos)
                throw bad("spare location", w[2]);
            e.member = number<std::uint16_t>(w[2].substr(0, colon), "spare member");
            e.spare_block = number<std::uint32_t>(w[2].substr(colon + 1), "spare block");
            e.on_missing = w.size() == 4;
        } else {
            throw bad("list_remaps line", line);
        }
        out.push_back(e);
    }
    return out;
}

} // namespace dmremap
