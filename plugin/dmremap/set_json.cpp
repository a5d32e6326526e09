// SPDX-License-Identifier: LGPL-2.1-or-later
#include "set_json.hpp"

#include "codec.hpp"
#include "error.hpp"
#include "layout.hpp"
#include "validator.hpp"

#include <dm-remap-format.h>

#include <array>

namespace dmremap {
namespace {

using nlohmann::json;

json member_json(const Member &m, std::uint32_t block_size)
{
    json j = {{"index", m.index},
              {"role", role_name(m.role)},
              {"uuid", m.uuid.str()},
              {"member_sectors", m.member_sectors},
              {"spare_offset_sectors", m.spare_offset},
              {"spare_sectors", m.spare_sectors},
              {"spare_blocks", layout::spare_blocks(m.spare_sectors, block_size)}};
    j["image_path"] = (m.flags & DMR_MEMBER_F_LOOP_IMAGE) ? json(m.image_path) : json(nullptr);
    j["failed"] = m.failed();
    return j;
}

[[noreturn]] void bad(const std::string &key, const std::string &why)
{
    throw Error(Error::Code::InvalidArgument, "dump: " + key + ": " + why);
}

template <typename T> T get(const json &j, const std::string &key, const std::string &ctx)
{
    if (!j.is_object() || !j.contains(key))
        bad(ctx + key, "missing");
    try {
        return j.at(key).get<T>();
    } catch (const json::exception &) {
        bad(ctx + key, "has the wrong type");
    }
}

std::uint64_t get_u(const json &j, const std::string &key, const std::string &ctx, std::uint64_t max)
{
    if (!j.is_object() || !j.contains(key))
        bad(ctx + key, "missing");
    const json &v = j.at(key);
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
        bad(ctx + key, "must be a non-negative integer");
    std::uint64_t u = v.get<std::uint64_t>();
    if (u > max)
        bad(ctx + key, "is larger than " + std::to_string(max));
    return u;
}

// An optional boolean: false when absent or null.
bool get_flag(const json &j, const std::string &key, const std::string &ctx)
{
    if (!j.contains(key) || j.at(key).is_null())
        return false;
    if (!j.at(key).is_boolean())
        bad(ctx + key, "must be true or false");
    return j.at(key).get<bool>();
}

Uuid get_uuid(const json &j, const std::string &key, const std::string &ctx)
{
    auto u = Uuid::parse(get<std::string>(j, key, ctx));
    if (!u || u->is_nil())
        bad(ctx + key, "is not a UUID");
    return *u;
}

Role parse_role(const std::string &s, const std::string &ctx)
{
    if (s == "data")
        return Role::Data;
    if (s == "spare")
        return Role::Spare;
    bad(ctx + "role", "must be \"data\" or \"spare\"");
}

} // namespace

json SetJson::problems(const Report &report)
{
    json arr = json::array();
    for (const auto &p : report.problems())
        arr.push_back(
            {{"severity", severity_name(p.severity)}, {"code", p.code}, {"where", p.where}, {"message", p.message}});
    return arr;
}

json SetJson::dump(const SetView &v, std::size_t member)
{
    const MemberView &mv = v.members.at(member);
    json j;
    j["format_version"] = DMR_VERSION;
    const Superblock &sb = *mv.sb;
    j["set_uuid"] = sb.set_uuid.str();
    j["name"] = sb.name;
    j["block_size"] = sb.block_size;
    j["data_offset_sectors"] = sb.data_offset;
    j["data_sectors"] = sb.data_sectors;
    j["max_entries"] = sb.max_entries;
    j["journal_blocks"] = sb.journal_blocks;
    j["metadata_copies"] = layout::md_copies(sb);
    j["ctime"] = sb.ctime;
    j["member"] = {{"path", mv.path},
                   {"uuid", sb.member_uuid.str()},
                   {"role", role_name(sb.role)},
                   {"index", sb.member_index},
                   {"generation", sb.generation},
                   {"member_sectors", sb.member_sectors},
                   {"metadata_offset_sectors", sb.md_offset},
                   {"metadata_sectors", sb.md_sectors},
                   {"spare_offset_sectors", sb.spare_offset},
                   {"spare_sectors", sb.spare_sectors},
                   {"superblock_copies_valid", {mv.copy_valid[0], mv.copy_valid[1]}}};
    j["members"] = json::array();
    j["remaps"] = json::array();
    j["retired"] = json::array();
    if (v.state) {
        const RemapState &st = *v.state;
        std::size_t lost = 0;
        j["generation"] = st.generation;
        j["seq"] = st.seq;
        for (const auto &m : st.members)
            j["members"].push_back(member_json(m, sb.block_size));
        for (const auto &e : st.entries()) {
            if (e.state == EntryState::Retired) {
                j["retired"].push_back({{"spare_member", e.spare_index}, {"spare_block", e.spare_block}});
                continue;
            }
            json r = {{"block", e.data_block}, {"state", state_name(e.state)}};
            r["spare_member"] = e.state == EntryState::Remapped ? json(e.spare_index) : json(nullptr);
            r["spare_block"] = e.state == EntryState::Remapped ? json(e.spare_block) : json(nullptr);
            r["lost"] = e.lost();
            lost += e.lost();
            j["remaps"].push_back(r);
        }
        j["counts"] = {{"remapped", st.count(EntryState::Remapped)},
                       {"pending", st.count(EntryState::Pending)},
                       {"lost", lost},
                       {"retired", st.count(EntryState::Retired)}};
    } else {
        j["generation"] = sb.generation;
        j["seq"] = nullptr;
    }
    return j;
}

SetDescription SetJson::parse(const json &j)
{
    if (!j.is_object())
        bad("(top level)", "is not a JSON object");
    if (get_u(j, "format_version", "", 1000) != DMR_VERSION)
        bad("format_version", "is not " + std::to_string(DMR_VERSION));
    SetDescription d;
    Superblock &c = d.common;
    c.version = DMR_VERSION;
    c.set_uuid = get_uuid(j, "set_uuid", "");
    c.name = get<std::string>(j, "name", "");
    if (!validator::valid_name(c.name))
        bad("name", "is not a valid device name");
    c.block_size = static_cast<std::uint32_t>(get_u(j, "block_size", "", DMR_BLOCK_SIZE_MAX));
    c.data_offset = get_u(j, "data_offset_sectors", "", ~0ULL);
    c.data_sectors = get_u(j, "data_sectors", "", ~0ULL);
    c.max_entries = static_cast<std::uint32_t>(get_u(j, "max_entries", "", DMR_MAX_ENTRIES_LIMIT));
    c.journal_blocks = static_cast<std::uint32_t>(get_u(j, "journal_blocks", "", DMR_JOURNAL_BLOCKS_MAX));
    c.ctime = get_u(j, "ctime", "", ~0ULL);
    c.generation = get_u(j, "generation", "", ~0ULL);
    c.md_offset = DMR_MD_OFFSET_SECTORS;
    // Without "metadata_copies" (a dump made before the mirror), a restored
    // set gets the mirrored metadata area of a new one if its areas leave
    // room for it; with it, exactly what the dump describes.
    const bool copies_given = j.contains("metadata_copies") && !j["metadata_copies"].is_null();
    const std::uint64_t copies = copies_given ? get_u(j, "metadata_copies", "", 2) : 2;
    if (copies < 1)
        bad("metadata_copies", "must be 1 or 2");
    c.incompat_flags = copies == 2 ? DMR_INCOMPAT_MD_MIRROR : 0;
    c.md_sectors = layout::md_sectors(c.max_entries, c.journal_blocks, DMR_MD_COPIES(c.incompat_flags));
    if (!j.contains("seq") || j["seq"].is_null())
        bad("seq", "missing: the dump holds no remap state");
    RemapState &st = d.state;
    st.set_uuid = c.set_uuid;
    st.generation = c.generation;
    st.seq = get_u(j, "seq", "", ~0ULL >> 1);
    const json &members = j.contains("members") ? j["members"] : json();
    if (!members.is_array() || members.empty())
        bad("members", "must be a non-empty array");
    for (std::size_t i = 0; i < members.size(); i++) {
        const std::string ctx = "members[" + std::to_string(i) + "].";
        const json &mj = members[i];
        Member m;
        m.index = static_cast<std::uint16_t>(get_u(mj, "index", ctx, DMR_MAX_MEMBERS - 1));
        m.role = parse_role(get<std::string>(mj, "role", ctx), ctx);
        m.uuid = get_uuid(mj, "uuid", ctx);
        m.member_sectors = get_u(mj, "member_sectors", ctx, ~0ULL);
        m.spare_offset = get_u(mj, "spare_offset_sectors", ctx, ~0ULL);
        m.spare_sectors = get_u(mj, "spare_sectors", ctx, ~0ULL);
        if (mj.contains("image_path") && !mj["image_path"].is_null()) {
            m.image_path = get<std::string>(mj, "image_path", ctx);
            if (m.image_path.empty() || m.image_path.size() >= DMR_IMAGE_PATH_LEN)
                bad(ctx + "image_path", "must be 1-" + std::to_string(DMR_IMAGE_PATH_LEN - 1) + " bytes");
            m.flags |= DMR_MEMBER_F_LOOP_IMAGE;
        }
        // Absent in dumps made before members could fail.
        if (get_flag(mj, "failed", ctx))
            m.flags |= DMR_MEMBER_F_FAILED;
        if (st.member(m.index))
            bad(ctx + "index", "index " + std::to_string(m.index) + " is listed twice");
        st.members.push_back(m);
    }
    std::sort(st.members.begin(), st.members.end(), [](auto &a, auto &b) { return a.index < b.index; });
    auto fits = [&] {
        const std::uint64_t md_end = c.md_offset + c.md_sectors;
        if (c.data_offset < md_end)
            return false;
        for (const auto &m : st.members)
            if (m.spare_sectors && m.spare_offset < md_end)
                return false;
        return true;
    };
    if (!copies_given && !fits()) {
        c.incompat_flags = 0;
        c.md_sectors = layout::md_sectors(c.max_entries, c.journal_blocks, 1);
    }
    std::vector<Entry> entries;
    const json &remaps = j.contains("remaps") ? j["remaps"] : json::array();
    if (!remaps.is_array())
        bad("remaps", "must be an array");
    for (std::size_t i = 0; i < remaps.size(); i++) {
        const std::string ctx = "remaps[" + std::to_string(i) + "].";
        const json &r = remaps[i];
        Entry e;
        e.data_block = get_u(r, "block", ctx, ~0ULL - 1);
        const std::string s = get<std::string>(r, "state", ctx);
        if (s == "remapped") {
            e.state = EntryState::Remapped;
            e.spare_index = static_cast<std::uint16_t>(get_u(r, "spare_member", ctx, DMR_MAX_MEMBERS - 1));
            e.spare_block = static_cast<std::uint32_t>(get_u(r, "spare_block", ctx, 0xffffffffULL));
            if (get_flag(r, "lost", ctx))
                bad(ctx + "lost", "only a pending block can be lost");
        } else if (s == "pending") {
            e.state = EntryState::Pending;
            e.spare_block = get_flag(r, "lost", ctx) ? DMR_PENDING_LOST : DMR_PENDING_UNREADABLE;
        } else {
            bad(ctx + "state", "must be \"remapped\" or \"pending\"");
        }
        entries.push_back(e);
    }
    const json &retired = j.contains("retired") ? j["retired"] : json::array();
    if (!retired.is_array())
        bad("retired", "must be an array");
    for (std::size_t i = 0; i < retired.size(); i++) {
        const std::string ctx = "retired[" + std::to_string(i) + "].";
        Entry e;
        e.state = EntryState::Retired;
        e.spare_index = static_cast<std::uint16_t>(get_u(retired[i], "spare_member", ctx, DMR_MAX_MEMBERS - 1));
        e.spare_block = static_cast<std::uint32_t>(get_u(retired[i], "spare_block", ctx, 0xffffffffULL));
        entries.push_back(e);
    }
    std::sort(entries.begin(), entries.end(), [](const Entry &a, const Entry &b) {
        return std::tie(a.data_block, a.spare_index, a.spare_block) <
               std::tie(b.data_block, b.spare_index, b.spare_block);
    });
    // Judge the result exactly as a loader would judge it on disk.
    Report r;
    for (const auto &m : st.members) {
        std::array<std::uint8_t, kBlock> blk;
        codec::pack(superblock_for(d, m), blk);
        r.append(validator::superblock(blk, 0, 0, "member " + std::to_string(m.index)));
    }
    r.append(validator::members(codec::pack_members(st.members), c, "members"));
    r.append(validator::entries(entries, st.members, c, true, "remaps"));
    for (const auto &p : r.problems())
        if (p.severity == Severity::Error)
            bad(p.where, p.message);
    st.assign(entries);
    return d;
}

Superblock SetJson::superblock_for(const SetDescription &d, const Member &m)
{
    Superblock sb = d.common;
    sb.member_uuid = m.uuid;
    sb.role = m.role;
    sb.member_index = m.index;
    sb.member_sectors = m.member_sectors;
    sb.spare_offset = m.spare_offset;
    sb.spare_sectors = m.spare_sectors;
    return sb;
}

} // namespace dmremap
