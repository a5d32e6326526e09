// SPDX-License-Identifier: LGPL-2.1-or-later
#include "metadata_area.hpp"

#include "codec.hpp"
#include "crc32c.hpp"
#include "layout.hpp"
#include "validator.hpp"

#include <dm-remap-format.h>

#include <algorithm>
#include <array>
#include <map>

namespace dmremap {
namespace {

bool all_zero(std::span<const std::uint8_t> b)
{
    return std::all_of(b.begin(), b.end(), [](std::uint8_t c) { return c == 0; });
}

std::string num(std::uint64_t v) { return std::to_string(v); }

} // namespace

MetadataArea::MetadataArea(BlockIo &io, const Superblock &sb, std::string where)
    : io_(io), sb_(sb), where_(std::move(where))
{
}

std::optional<RemapState> MetadataArea::read_slot(unsigned slot, Report &r, std::uint64_t &max_seq,
                                                  std::optional<std::uint64_t> generation)
{
    const std::string w = where_ + " slot " + num(slot);
    std::array<std::uint8_t, kBlock> hdr;
    io_.read(layout::slot_offset(sb_, slot), hdr);
    if (all_zero(hdr)) {
        r.add(Severity::Info, "slot-empty", w, "snapshot slot is empty");
        return std::nullopt;
    }
    if (codec::magic(hdr) != DMR_SNAP_MAGIC) {
        r.add(Severity::Warning, "slot-magic", w, "snapshot header has bad magic");
        return std::nullopt;
    }
    if (codec::stored_csum(hdr) != codec::block_csum(hdr)) {
        r.add(Severity::Warning, "slot-checksum", w, "snapshot header checksum mismatch");
        return std::nullopt;
    }
    const SnapshotHeader h = codec::unpack_snapshot(hdr);
    if (h.set_uuid != sb_.set_uuid) {
        r.add(Severity::Warning, "slot-set", w, "snapshot belongs to set " + h.set_uuid.str());
        return std::nullopt;
    }
    if (generation && h.generation != *generation) {
        r.add(Severity::Info, "slot-generation", w,
              "snapshot of generation " + num(h.generation) + ", the set is at " + num(*generation) +
                  " (a membership change that did not commit, or an older one)");
        return std::nullopt;
    }
    max_seq = std::max(max_seq, h.seq);
    bool ok = true;
    if (h.slot != slot) {
        r.add(Severity::Warning, "slot-location", w, "snapshot header claims slot " + num(h.slot));
        ok = false;
    }
    if (h.nr_entries > sb_.max_entries) {
        r.add(Severity::Error, "entry-capacity", w,
              num(h.nr_entries) + " entries exceed the capacity of " + num(sb_.max_entries));
        return std::nullopt;
    }
    std::vector<std::uint8_t> table(DMR_MEMBER_TABLE_BLOCKS * kBlock);
    io_.read(layout::members_offset(sb_, slot), table);
    if (crc32c(table) != h.members_csum) {
        r.add(Severity::Warning, "slot-members-checksum", w, "member table checksum mismatch");
        return std::nullopt;
    }
    Report mr = validator::members(table, sb_, w);
    ok &= !mr.damaged();
    r.append(mr);
    std::vector<std::uint8_t> raw(std::size_t{h.nr_entries} * sizeof(dmr_entry_disk));
    io_.read(layout::entries_offset(sb_, slot), raw);
    if (crc32c(raw) != h.entries_csum) {
        r.add(Severity::Warning, "slot-entries-checksum", w, "entry table checksum mismatch");
        return std::nullopt;
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
    if (!ok)
        return std::nullopt;
    st.assign(entries);
    return st;
}

void MetadataArea::replay(MemberLoad &out)
{
    // Index every valid record of this set by seq; report anything else
    // that is neither empty nor such a record.
    std::map<std::uint64_t, JournalRecord> records;
    std::array<std::uint8_t, kBlock> blk;
    for (std::uint32_t j = 0; j < sb_.journal_blocks; j++) {
        io_.read(layout::journal_start(sb_) + std::uint64_t{j} * kBlock, blk);
        if (all_zero(blk))
            continue;
        const std::string w = where_ + " journal block " + num(j);
        if (codec::magic(blk) != DMR_JOURNAL_MAGIC || codec::stored_csum(blk) != codec::block_csum(blk)) {
            out.report.add(Severity::Warning, "journal-corrupt", w,
                           "journal block is neither empty nor a valid record (torn or damaged)");
            continue;
        }
        JournalRecord rec = codec::unpack_journal(blk);
        if (rec.set_uuid != sb_.set_uuid) {
            out.report.add(Severity::Warning, "journal-corrupt", w, "record of another set " + rec.set_uuid.str());
            continue;
        }
        if (rec.seq % sb_.journal_blocks != j) {
            out.report.add(Severity::Warning, "journal-location", w,
                           "record seq " + num(rec.seq) + " belongs in block " + num(rec.seq % sb_.journal_blocks));
            continue;
        }
        out.max_seq_seen = std::max(out.max_seq_seen, rec.seq);
        records.emplace(rec.seq, std::move(rec));
    }
    if (!out.state)
        return;
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
    for (auto it = records.upper_bound(out.state->seq + 1); it != records.end(); ++it)
        out.report.add(Severity::Warning, "journal-orphan", where_ + " journal seq " + num(it->first),
                       "record is newer than the state it should follow (chain ends at " +
                           num(out.state->seq) + ")");
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
    replay(out);
    if (!out.state)
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
    io_.write(layout::entries_offset(sb_, slot), raw);
    io_.write(layout::members_offset(sb_, slot), table);
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
    io_.write(layout::slot_offset(sb_, slot), hdr);
    io_.flush();
}

void MetadataArea::append(const JournalRecord &rec)
{
    std::array<std::uint8_t, kBlock> blk;
    codec::pack(rec, blk);
    io_.write(layout::journal_offset(sb_, rec.seq), blk);
    io_.flush();
}

void MetadataArea::clear_journal()
{
    const std::vector<std::uint8_t> zero(std::size_t{sb_.journal_blocks} * kBlock, 0);
    io_.write(layout::journal_start(sb_), zero);
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
