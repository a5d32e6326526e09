// SPDX-License-Identifier: LGPL-2.1-or-later
#include "checker.hpp"

#include "codec.hpp"
#include "error.hpp"
#include "layout.hpp"
#include "validator.hpp"

#include <dm-remap-format.h>

#include <map>
#include <set>

namespace dmremap {
namespace {

std::string num(std::uint64_t v) { return std::to_string(v); }

} // namespace

MemberView Checker::read_superblocks(BlockIo &io, Report &report)
{
    MemberView mv;
    mv.path = io.name();
    mv.device_sectors = io.size_bytes() >> DMR_SECTOR_SHIFT;
    std::array<Superblock, 2> sbs;
    for (unsigned copy = 0; copy < 2; copy++) {
        std::array<std::uint8_t, kBlock> blk{};
        if (io.size_bytes() < layout::sb_offset(copy) + kBlock) {
            report.add(Severity::Error, "sb-device-size", mv.path, "device is too small to hold a superblock");
            continue;
        }
        try {
            io.read(layout::sb_offset(copy), blk);
        } catch (const Error &e) {
            // A bad sector here is what this tool is for: the other copy
            // still counts, as it does for the kernel.
            report.add(Severity::Error, "sb-unreadable", mv.path,
                       "superblock copy " + num(copy) + " cannot be read: " + e.what());
            continue;
        }
        Report r = validator::superblock(blk, copy, mv.device_sectors, mv.path);
        mv.copy_valid[copy] = r.count(Severity::Error) == 0;
        report.append(r);
        if (mv.copy_valid[copy])
            sbs[copy] = codec::unpack_superblock(blk);
    }
    if (mv.copy_valid[0] && mv.copy_valid[1]) {
        Superblock a = sbs[0], b = sbs[1];
        a.sb_copy = b.sb_copy = 0;
        a.sb_location = b.sb_location = 0;
        if (!(a == b))
            report.add(Severity::Warning, "sb-copies-differ", mv.path,
                       "superblock copies differ (generation " + num(sbs[0].generation) + " vs " +
                           num(sbs[1].generation) + "); the newer one is used");
        mv.sb = sbs[sbs[1].generation > sbs[0].generation ? 1 : 0];
    } else if (mv.copy_valid[0] || mv.copy_valid[1]) {
        mv.sb = sbs[mv.copy_valid[0] ? 0 : 1];
    } else {
        report.add(Severity::Error, "not-a-member", mv.path, "no valid superblock: not a dm-remap member");
    }
    return mv;
}

SetView Checker::run(const std::vector<BlockIo *> &ios)
{
    SetView v;
    for (BlockIo *io : ios)
        v.members.push_back(read_superblocks(*io, v.report));
    // The data member's superblock names the membership in force (a
    // membership change commits by rewriting it, docs/FORMAT.md §6); without
    // it, the newest generation given.
    std::optional<std::uint64_t> generation, newest;
    for (const auto &m : v.members) {
        if (m.sb && m.sb->role == Role::Data)
            generation = m.sb->generation;
        if (m.sb)
            newest = std::max(newest.value_or(0), m.sb->generation);
    }
    if (!generation)
        generation = newest;
    for (std::size_t i = 0; i < v.members.size(); i++) {
        MemberView &mv = v.members[i];
        if (!mv.sb)
            continue;
        MetadataArea area(*ios[i], *mv.sb, mv.path);
        try {
            mv.load = area.load(generation);
            v.report.append(mv.load->report);
        } catch (const Error &e) {
            if (e.code() != Error::Code::Io)
                throw;
            // The other members hold the same state.
            v.report.add(Severity::Error, "md-unreadable", mv.path, std::string("metadata cannot be read: ") + e.what());
        }
    }
    cross_check(v);
    return v;
}

void Checker::cross_check(SetView &v)
{
    // Identity: the data member (or the first identifiable one) defines the set.
    const MemberView *ref = nullptr;
    for (const auto &m : v.members)
        if (m.sb && (!ref || (m.sb->role == Role::Data && ref->sb->role != Role::Data)))
            ref = &m;
    if (!ref)
        return;
    const Superblock &rs = *ref->sb;
    std::map<std::uint16_t, std::string> by_index, failed_paths;
    std::set<Uuid> uuids;
    for (auto &m : v.members) {
        if (!m.sb)
            continue;
        const Superblock &s = *m.sb;
        if (s.set_uuid != rs.set_uuid) {
            v.report.add(Severity::Error, "member-wrong-set", m.path,
                         "belongs to set " + s.set_uuid.str() + " (" + s.name + "), not " + rs.set_uuid.str() + " (" +
                             rs.name + ")");
            m.load.reset(); // never let another set's state win
            continue;
        }
        if (!uuids.insert(s.member_uuid).second) {
            v.report.add(Severity::Error, "member-duplicate", m.path, "the same member is given twice");
            continue;
        }
        auto [it, fresh] = by_index.emplace(s.member_index, m.path);
        if (!fresh)
            v.report.add(Severity::Error, "member-duplicate-index", m.path,
                         "member index " + num(s.member_index) + " is also claimed by " + it->second);
        if (s.block_size != rs.block_size || s.data_offset != rs.data_offset || s.data_sectors != rs.data_sectors ||
            s.max_entries != rs.max_entries || s.journal_blocks != rs.journal_blocks || s.name != rs.name)
            v.report.add(Severity::Error, "member-mismatch", m.path,
                         "superblock geometry or name disagrees with " + ref->path);
    }
    // The newest fully valid state across all members wins.
    for (std::size_t i = 0; i < v.members.size(); i++) {
        const auto &m = v.members[i];
        if (m.load && m.load->state && m.sb->set_uuid == rs.set_uuid &&
            (!v.state || m.load->state->seq > v.state->seq)) {
            v.state = m.load->state;
            v.sb = m.sb;
            v.source = i;
        }
    }
    if (!v.state) {
        v.report.add(Severity::Error, "no-metadata", rs.set_uuid.str(), "no member holds a valid remap state");
        return;
    }
    if (!history_complete(v, rs))
        return;
    const RemapState &st = *v.state;
    std::set<std::uint16_t> seen;
    for (auto &m : v.members) {
        if (!m.sb || m.sb->set_uuid != rs.set_uuid)
            continue;
        const Member *rec = st.member(m.sb->member_index);
        if (!rec || rec->uuid != m.sb->member_uuid) {
            v.report.add(Severity::Error, "member-not-in-set", m.path,
                         "member " + num(m.sb->member_index) + " (" + m.sb->member_uuid.str() +
                             ") is not in the set's newest member table (removed spare?)");
            continue;
        }
        seen.insert(rec->index);
        if (rec->failed()) {
            // Behind by design: nothing was written to it after it failed.
            failed_paths[rec->index] = m.path;
            continue;
        }
        if (m.load && m.load->state && m.load->state->seq < st.seq)
            v.report.add(Severity::Error, "member-stale", m.path,
                         "metadata is at commit " + num(m.load->state->seq) + ", the set is at " + num(st.seq) +
                             "; activation rewrites it");
        if (m.sb->generation > st.generation)
            v.report.add(Severity::Error, "member-unfinished", m.path,
                         "superblock generation " + num(m.sb->generation) + " is ahead of the set's " +
                             num(st.generation) + ": left by a membership change that did not finish");
        else if (m.sb->generation < st.generation)
            v.report.add(Severity::Warning, "member-generation", m.path,
                         "superblock generation " + num(m.sb->generation) + " is behind the set's " +
                             num(st.generation));
        if (rec->member_sectors != m.sb->member_sectors || rec->spare_offset != m.sb->spare_offset ||
            rec->spare_sectors != m.sb->spare_sectors)
            v.report.add(Severity::Error, "member-mismatch", m.path,
                         "superblock and member table disagree on the member's areas");
    }
    if (!failed_paths.empty()) {
        // What its own metadata says no longer matters: the set stopped
        // writing to it (and a dead disk cannot be read anyway).
        Report r;
        for (const auto &p : v.report.problems()) {
            bool own = false;
            for (const auto &[index, path] : failed_paths)
                own |= p.where == path || p.where.rfind(path + " ", 0) == 0;
            r.add(own && p.severity != Severity::Info ? Severity::Info : p.severity, p.code, p.where,
                  own && p.severity != Severity::Info ? p.message + " (failed member, left out of the set)"
                                                      : p.message);
        }
        v.report = std::move(r);
    }
    for (const auto &rec : st.members)
        if (rec.failed())
            report_failed(v, rec, failed_paths[rec.index]);
        else if (!seen.count(rec.index))
            v.report.add(Severity::Info, "member-not-checked", "member " + num(rec.index),
                         std::string(role_name(rec.role)) + " member " + rec.uuid.str() + " was not given");
    std::size_t lost = 0;
    for (const auto &e : st.entries())
        lost += e.lost();
    if (lost)
        v.report.add(Severity::Warning, "pending-lost", rs.set_uuid.str(),
                     num(lost) + (lost == 1 ? " block" : " blocks") +
                         " lost their latest data with a failed spare; they read as errors until written "
                         "(dmremapctl pending NAME lists them)");
}

// A member the kernel left out while the set ran: the set works without it,
// but its spare capacity is gone until it is removed and replaced.
void Checker::report_failed(SetView &v, const Member &rec, const std::string &path)
{
    std::string dev = path;
    if (dev.empty() && (rec.flags & DMR_MEMBER_F_LOOP_IMAGE))
        dev = rec.image_path;
    const std::string where = "member " + num(rec.index) + (dev.empty() ? "" : " (" + dev + ")");
    const std::string arg = path.empty() ? "index=" + num(rec.index) : path;
    v.report.add(Severity::Warning, "member-failed", where,
                 std::string(role_name(rec.role)) + " member " + num(rec.index) + " (" + rec.uuid.str() + ")" +
                     (dev.empty() ? "" : " on " + dev) +
                     " failed while the set ran and was left out of it; remove it with "
                     "'dmremapctl spare remove NAME " + arg + "' and add a new spare");
}

// Rules 3 and 4 of docs/FORMAT.md §5 across members: the set's history ends
// at the newest state E only if no member holds a record of it past E and
// no member has record E+1's block unreadable in every copy. A member that
// cannot prove the history alone is then only damaged, not the set.
bool Checker::history_complete(SetView &v, const Superblock &rs)
{
    const RemapState &st = *v.state;
    const std::uint32_t next_block = static_cast<std::uint32_t>((st.seq + 1) % rs.journal_blocks);
    bool complete = true;
    for (const auto &m : v.members) {
        if (!m.load || m.sb->set_uuid != rs.set_uuid)
            continue;
        const Report &own = m.load->report;
        for (const auto &[seq, gen] : m.load->records) {
            if (seq <= st.seq || gen != st.generation)
                continue;
            complete = false;
            if (!own.has("journal-orphan"))
                v.report.add(Severity::Error, "journal-orphan", m.path + " journal seq " + num(seq),
                             "journal record " + num(seq) + " found beyond the end of the history at " +
                                 num(st.seq) + ": a record in between is lost");
            break;
        }
        if (m.load->unreadable_journal.count(next_block)) {
            complete = false;
            if (!own.has("journal-unreadable"))
                v.report.add(Severity::Error, "journal-unreadable", m.path + " journal block " + num(next_block),
                             "record " + num(st.seq + 1) + " would be in a block that cannot be read in any "
                             "copy: the history cannot be proven to end at " + num(st.seq));
        }
    }
    if (!complete) {
        // Never hand out a history that may be shorter than the one acknowledged.
        v.state.reset();
        v.sb.reset();
        return false;
    }
    Report r;
    for (const auto &p : v.report.problems()) {
        const bool proven = p.severity == Severity::Error && (p.code == "journal-orphan" || p.code == "journal-unreadable");
        r.add(proven ? Severity::Warning : p.severity, p.code, p.where,
              proven ? p.message + " (another member holds the history up to " + num(st.seq) + ")" : p.message);
    }
    v.report = std::move(r);
    return true;
}

} // namespace dmremap
