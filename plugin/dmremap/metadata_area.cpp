// SPDX-License-Identifier: LGPL-2.1-or-later
#include "metadata_area.hpp"

#include "codec.hpp"
#include "crc32c.hpp"
#include "layout.hpp"
#include "mirror_reader.hpp"
#include "validator.hpp"

#include <dm-remap-format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <endian.h>

namespace dmremap {
namespace {

bool all_zero(std::span<const std::uint8_t> b)
{
    return std::all_of(b.begin(), b.end(), [](std::uint8_t c) { return c == 0; });
}

std::string num(std::uint64_t v) { return std::to_string(v); }

bool same(const Report &a, const Report &b)
{
    const auto &x = a.problems(), &y = b.problems();
    return std::equal(x.begin(), x.end(), y.begin(), y.end(), [](const Problem &p, const Problem &q) {
        return p.severity == q.severity && p.code == q.code && p.where == q.where && p.message == q.message;
    });
}

// One line saying why a copy of a structure is not usable.
std::string why_invalid(const Report &r, bool empty)
{
    if (empty)
        return "is empty";
    if (r.problems().empty())
        return "is not valid";
    const Problem &p = r.problems().front();
    return "is not valid (" + p.code + ": " + p.message + ")";
}

} // namespace

MetadataArea::MetadataArea(BlockIo &io, const Superblock &sb, std::string where)
    : io_(io), sb_(sb), where_(std::move(where))
{
}

std::string MetadataArea::block_desc(std::uint64_t offset0) const
{
    const MirrorReader rd(io_, sb_);
    std::string s = "metadata block " + num((offset0 - layout::md_copy_offset(sb_, 0)) / kBlock) + " (sector";
    for (unsigned c = 0; c < rd.copies(); c++)
        s += (c ? ", " : " ") + num(rd.in_copy(offset0, c) >> DMR_SECTOR_SHIFT);
    return s + ")";
}

void MetadataArea::copy_warning(Report &r, const std::string &w, unsigned copy, std::uint64_t offset0) const
{
    r.add(Severity::Warning, "md-copy", w + " copy " + num(copy),
          block_desc(offset0) + " cannot be read in this copy; the other copy's block is used");
}

MetadataArea::SlotCandidate MetadataArea::read_slot_copy(unsigned slot, unsigned copy,
                                                        std::optional<std::uint64_t> generation)
{
    SlotCandidate out;
    Report &r = out.report;
    MirrorReader rd(io_, sb_);
    const std::string w = where_ + " slot " + num(slot);
    // False when a block could be read in no copy: its zeroes prove nothing.
    auto read = [&](std::uint64_t off0, std::span<std::uint8_t> buf) {
        CandidateRead cr = rd.read(copy, off0, buf);
        out.borrowed.insert(out.borrowed.end(), cr.borrowed.begin(), cr.borrowed.end());
        for (auto u : cr.unreadable)
            r.add(Severity::Warning, "md-unreadable", w, block_desc(u) + " cannot be read in any copy");
        return cr.unreadable.empty();
    };
    std::array<std::uint8_t, kBlock> hdr;
    if (!read(layout::slot_offset(sb_, slot, 0), hdr))
        return out;
    if (all_zero(hdr)) {
        r.add(Severity::Info, "slot-empty", w, "snapshot slot is empty");
        out.empty = true;
        return out;
    }
    if (codec::magic(hdr) != DMR_SNAP_MAGIC) {
        r.add(Severity::Warning, "slot-magic", w, "snapshot header has bad magic");
        return out;
    }
    if (codec::stored_csum(hdr) != codec::block_csum(hdr)) {
        r.add(Severity::Warning, "slot-checksum", w, "snapshot header checksum mismatch");
        return out;
    }
    const SnapshotHeader h = codec::unpack_snapshot(hdr);
    if (h.set_uuid != sb_.set_uuid) {
        r.add(Severity::Warning, "slot-set", w, "snapshot belongs to set " + h.set_uuid.str());
        return out;
    }
    if (generation && h.generation != *generation) {
        r.add(Severity::Info, "slot-generation", w,
              "snapshot of generation " + num(h.generation) + ", the set is at " + num(*generation) +
                  " (a membership change that did not commit, or an older one)");
        return out;
    }
    out.seq = h.seq;
    bool ok = true;
    if (h.slot != slot) {
        r.add(Severity::Warning, "slot-location", w, "snapshot header claims slot " + num(h.slot));
        ok = false;
    }
    if (h.nr_entries > sb_.max_entries) {
        r.add(Severity::Error, "entry-capacity", w,
              num(h.nr_entries) + " entries exceed the capacity of " + num(sb_.max_entries));
        return out;
    }
    std::vector<std::uint8_t> table(DMR_MEMBER_TABLE_BLOCKS * kBlock);
    if (!read(layout::members_offset(sb_, slot, 0), table))
        return out;
    if (crc32c(table) != h.members_csum) {
        r.add(Severity::Warning, "slot-members-checksum", w, "member table checksum mismatch");
        return out;
    }
    Report mr = validator::members(table, sb_, w);
    ok &= !mr.damaged();
    r.append(mr);
    std::vector<std::uint8_t> raw(std::size_t{h.nr_entries} * sizeof(dmr_entry_disk));
    if (!read(layout::entries_offset(sb_, slot, 0), raw))
        return out;
    if (crc32c(raw) != h.entries_csum) {
        r.add(Severity::Warning, "slot-entries-checksum", w, "entry table checksum mismatch");
        return out;
    }
    RemapState st;
    st.set_uuid = h.set_uuid;
    st.seq = h.seq;
    st.generation = h.generation;
    st.members = codec::unpack_members(table);
    const auto entries = codec::unpack_entries(raw);
    Report er = validator::entries(entries, st.members, sb_, true, w);
    ok &= !er.damaged();
    r.append(er);
    if (ok) {
        st.assign(entries);
        out.state = std::move(st);
    }
    return out;
}

std::optional<RemapState> MetadataArea::read_slot(unsigned slot, Report &r, std::uint64_t &max_seq,
                                                  std::optional<std::uint64_t> generation)
{
    const unsigned copies = layout::md_copies(sb_);
    const std::string w = where_ + " slot " + num(slot);
    std::vector<SlotCandidate> cand;
    for (unsigned c = 0; c < copies; c++)
        cand.push_back(read_slot_copy(slot, c, generation));
    std::optional<RemapState> best;
    for (auto &c : cand) {
        if (c.seq)
            max_seq = std::max(max_seq, *c.seq);
        if (c.state && (!best || c.state->seq > best->seq))
            best = std::move(c.state);
    }
    for (unsigned c = 0; c < copies; c++)
        for (auto b : cand[c].borrowed)
            copy_warning(r, w, c, b);
    if (best) {
        // The other copy carries the state; only redundancy is lost.
        for (unsigned c = 0; c < copies; c++)
            if (!cand[c].state)
                r.add(Severity::Warning, "md-copy", w + " copy " + num(c),
                      "copy " + why_invalid(cand[c].report, cand[c].empty) + "; the other copy is used");
        return best;
    }
    if (copies == 1 || same(cand[0].report, cand[1].report)) {
        r.append(cand[0].report);
        return std::nullopt;
    }
    for (unsigned c = 0; c < copies; c++)
        for (const auto &p : cand[c].report.problems())
            r.add(p.severity, p.code, p.where + " copy " + num(c), p.message);
    return std::nullopt;
}

void MetadataArea::scan_journal(MemberLoad &out, std::map<std::uint64_t, JournalRecord> &records)
{
    MirrorReader rd(io_, sb_);
    const unsigned copies = rd.copies();
    std::array<std::uint8_t, kBlock> blk;
    for (std::uint32_t j = 0; j < sb_.journal_blocks; j++) {
        const std::uint64_t off0 = layout::journal_start(sb_, 0) + std::uint64_t{j} * kBlock;
        const std::string w = where_ + " journal block " + num(j);
        std::array<Report, 2> probs;
        std::array<bool, 2> valid{}, empty{};
        bool unreadable = false;
        for (unsigned c = 0; c < copies && !unreadable; c++) {
            CandidateRead cr = rd.read(c, off0, blk);
            if (!cr.unreadable.empty()) {
                unreadable = true; // the same for every candidate
                break;
            }
            if (!cr.borrowed.empty())
                copy_warning(out.report, w, c, off0);
            if (all_zero(blk)) {
                empty[c] = true;
                continue;
            }
            if (codec::magic(blk) != DMR_JOURNAL_MAGIC || codec::stored_csum(blk) != codec::block_csum(blk)) {
                probs[c].add(Severity::Warning, "journal-corrupt", w,
                             "journal block is neither empty nor a valid record (torn or damaged)");
                continue;
            }
            std::uint32_t nr_updates = 0;
            std::memcpy(&nr_updates, blk.data() + offsetof(dmr_journal_disk, nr_updates), sizeof(nr_updates));
            if (le32toh(nr_updates) > DMR_JOURNAL_UPDATES) {
                // Not a record (the kernel agrees): it ends the chain, it is no orphan.
                probs[c].add(Severity::Warning, "journal-corrupt", w,
                             "record claims " + num(le32toh(nr_updates)) + " updates, more than a record holds");
                continue;
            }
            JournalRecord rec = codec::unpack_journal(blk);
            if (rec.set_uuid != sb_.set_uuid) {
                probs[c].add(Severity::Warning, "journal-corrupt", w, "record of another set " + rec.set_uuid.str());
                continue;
            }
            if (rec.seq % sb_.journal_blocks != j) {
                probs[c].add(Severity::Warning, "journal-location", w,
                             "record seq " + num(rec.seq) + " belongs in block " +
                                 num(rec.seq % sb_.journal_blocks));
                continue;
            }
            valid[c] = true;
            out.max_seq_seen = std::max(out.max_seq_seen, rec.seq);
            out.records[rec.seq] = rec.generation;
            records.emplace(rec.seq, std::move(rec));
        }
        if (unreadable) {
            out.unreadable_journal.insert(j);
            out.report.add(Severity::Warning, "md-unreadable", w, block_desc(off0) + " cannot be read in any copy");
            continue;
        }
        if (valid[0] || valid[1]) {
            for (unsigned c = 0; c < copies; c++)
                if (!valid[c])
                    out.report.add(Severity::Warning, "md-copy", w + " copy " + num(c),
                                   "copy " + why_invalid(probs[c], empty[c]) + "; the other copy holds a record");
        } else if (copies == 1 || same(probs[0], probs[1])) {
            out.report.append(probs[0]);
        } else {
            for (unsigned c = 0; c < copies; c++)
                for (const auto &p : probs[c].problems())
                    out.report.add(p.severity, p.code, p.where + " copy " + num(c), p.message);
        }
    }
}

void MetadataArea::replay(MemberLoad &out, const std::map<std::uint64_t, JournalRecord> &records)
{
    // Follow the chain seq+1, seq+2, ... as far as records apply cleanly.
    const RemapState base = *out.state;
    std::vector<const JournalRecord *> chain;
    RemapState st = base;
    for (auto it = records.find(st.seq + 1); it != records.end(); it = records.find(st.seq + 1)) {
        const JournalRecord &rec = it->second;
        const std::string w = where_ + " journal seq " + num(rec.seq);
        if (rec.generation != st.generation) {
            out.report.add(Severity::Warning, "journal-generation", w,
                           "record of generation " + num(rec.generation) + " follows state of generation " +
                               num(st.generation));
            break;
        }
        std::string why;
        for (const auto &u : rec.updates)
            if (!(why = st.apply(u)).empty())
                break;
        if (!why.empty()) {
            out.report.add(Severity::Error, "journal-update", w, "record " + why);
            st = base;
            for (auto *r : chain)
                for (const auto &u : r->updates)
                    st.apply(u);
            st.seq = base.seq + chain.size();
            break;
        }
        st.seq = rec.seq;
        chain.push_back(&rec);
    }
    // Validating after every record would cost O(entries) each; validate the
    // end state and only on damage (a checksummed but wrong record) back off.
    for (bool first = true; !chain.empty(); first = false) {
        Report er = validator::entries(st.entries(), st.members, sb_, true,
                                       where_ + " journal seq " + num(st.seq));
        if (!er.damaged())
            break;
        if (first)
            out.report.append(er);
        chain.pop_back();
        st = base;
        for (auto *r : chain)
            for (const auto &u : r->updates)
                st.apply(u);
        st.seq = base.seq + chain.size();
    }
    out.replayed = chain.size();
    *out.state = std::move(st);
    check_end(out, records);
}

// Rules 3 and 4 of docs/FORMAT.md §5 on this member: the history ends at E
// only if record E+1 provably does not exist.
void MetadataArea::check_end(MemberLoad &out, const std::map<std::uint64_t, JournalRecord> &records)
{
    const std::uint64_t end = out.state->seq;
    const std::uint32_t next_block = static_cast<std::uint32_t>((end + 1) % sb_.journal_blocks);
    if (!records.count(end + 1) && out.unreadable_journal.count(next_block)) {
        out.refused = true;
        out.report.add(Severity::Error, "journal-unreadable", where_ + " journal block " + num(next_block),
                       "record " + num(end + 1) + " would be in " +
                           block_desc(layout::journal_offset(sb_, end + 1, 0)) +
                           ", which cannot be read in any copy: the history cannot be proven to end at " +
                           num(end));
    }
    std::size_t orphans = 0;
    for (const auto &[seq, gen] : out.records) {
        if (seq <= end || gen != out.state->generation)
            continue;
        out.refused = true;
        // A whole ring of orphans is one fault; name the first few.
        if (++orphans <= 4)
            out.report.add(Severity::Error, "journal-orphan", where_ + " journal seq " + num(seq),
                           "journal record " + num(seq) + " found beyond the end of the history at " + num(end) +
                               ": a record in between is lost");
    }
    if (orphans > 4)
        out.report.add(Severity::Error, "journal-orphan", where_,
                       num(orphans - 4) + " more records beyond the end of the history at " + num(end));
}

MemberLoad MetadataArea::load(std::optional<std::uint64_t> generation)
{
    MemberLoad out;
    for (unsigned slot = 0; slot < 2; slot++) {
        auto st = read_slot(slot, out.report, out.max_seq_seen, generation);
        if (st && (!out.state || st->seq > out.state->seq)) {
            out.state = std::move(st);
            out.slot = static_cast<int>(slot);
        }
    }
    if (out.state)
        out.snapshot_seq = out.state->seq;
    std::map<std::uint64_t, JournalRecord> records;
    scan_journal(out, records);
    if (out.state)
        replay(out, records);
    else
        out.report.add(Severity::Error, "no-metadata", where_, "no valid snapshot in either slot");
    return out;
}

void MetadataArea::write_snapshot(const RemapState &st, unsigned slot)
{
    const auto entries = st.entries();
    auto raw = codec::pack_entries(entries);
    const std::uint32_t entries_csum = crc32c(raw);
    raw.resize(layout::align_up(raw.size(), kBlock), 0);
    const auto table = codec::pack_members(st.members);
    const unsigned copies = layout::md_copies(sb_);
    // Both bodies before either header: a header never names a body that
    // is not durable in its own copy.
    for (unsigned c = 0; c < copies; c++) {
        io_.write(layout::entries_offset(sb_, slot, c), raw);
        io_.write(layout::members_offset(sb_, slot, c), table);
    }
    io_.flush();
    SnapshotHeader h;
    h.slot = slot;
    h.set_uuid = st.set_uuid;
    h.seq = st.seq;
    h.generation = st.generation;
    h.nr_entries = static_cast<std::uint32_t>(entries.size());
    h.entries_csum = entries_csum;
    h.members_csum = crc32c(table);
    std::array<std::uint8_t, kBlock> hdr;
    codec::pack(h, hdr);
    for (unsigned c = 0; c < copies; c++)
        io_.write(layout::slot_offset(sb_, slot, c), hdr);
    io_.flush();
}

void MetadataArea::append(const JournalRecord &rec)
{
    std::array<std::uint8_t, kBlock> blk;
    codec::pack(rec, blk);
    for (unsigned c = 0; c < layout::md_copies(sb_); c++)
        io_.write(layout::journal_offset(sb_, rec.seq, c), blk);
    io_.flush();
}

void MetadataArea::clear_journal()
{
    const std::vector<std::uint8_t> zero(std::size_t{sb_.journal_blocks} * kBlock, 0);
    for (unsigned c = 0; c < layout::md_copies(sb_); c++)
        io_.write(layout::journal_start(sb_, c), zero);
    io_.flush();
}

void MetadataArea::write_superblocks(const Superblock &sb)
{
    for (unsigned copy = 0; copy < DMR_SB_COPIES; copy++) {
        Superblock c = sb;
        c.sb_copy = copy;
        c.sb_location = DMR_SB_SECTOR(copy);
        std::array<std::uint8_t, kBlock> blk;
        codec::pack(c, blk);
        io_.write(layout::sb_offset(copy), blk);
        io_.flush();
    }
    sb_ = sb;
}

} // namespace dmremap
