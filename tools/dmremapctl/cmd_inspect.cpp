// SPDX-License-Identifier: GPL-2.0-or-later
// Read-only commands: dump, check, probe, table.
#include "args.hpp"
#include "commands.hpp"
#include "text.hpp"

#include <checker.hpp>
#include <dm-remap-format.h>
#include <error.hpp>
#include <file_io.hpp>
#include <layout.hpp>
#include <set_json.hpp>
#include <set_manager.hpp>

#include <ctime>
#include <iomanip>
#include <iostream>
#include <memory>

namespace dmremap::cli {
namespace {

struct Opened {
    std::vector<std::unique_ptr<FileIo>> files;
    std::vector<BlockIo *> ios;
};

Opened open_all(const std::vector<std::string> &paths)
{
    Opened o;
    for (const auto &p : paths) {
        o.files.push_back(std::make_unique<FileIo>(p, FileIo::Mode::ReadOnly));
        o.ios.push_back(o.files.back().get());
    }
    return o;
}

void print_problems(const Report &r, bool verbose, std::ostream &out)
{
    for (const auto &p : r.problems())
        if (verbose || p.severity != Severity::Info)
            out << severity_name(p.severity) << ": " << p.where << ": " << p.message << " [" << p.code << "]\n";
}

std::string when(std::uint64_t t)
{
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

void print_dump(const SetView &v)
{
    const MemberView &mv = v.members[0];
    const Superblock &s = *mv.sb;
    std::cout << "Member " << mv.path << ": " << role_name(s.role) << " member " << s.member_index << " of set '"
              << s.name << "'\n"
              << "  set uuid:          " << s.set_uuid.str() << "\n"
              << "  member uuid:       " << s.member_uuid.str() << "\n"
              << "  format version:    " << s.version << "\n"
              << "  created:           " << when(s.ctime) << "\n"
              << "  generation:        " << s.generation << "\n"
              << "  superblock copies: " << (mv.copy_valid[0] ? "0 valid" : "0 DAMAGED") << ", "
              << (mv.copy_valid[1] ? "1 valid" : "1 DAMAGED") << "\n"
              << "  block size:        " << s.block_size << "\n"
              << "  member size:       " << s.member_sectors << " sectors (" << human_size(s.member_sectors << 9)
              << ")\n"
              << "  metadata area:     sector " << s.md_offset << ", " << s.md_sectors << " sectors in "
              << layout::md_copies(s) << (layout::md_copies(s) == 1 ? " copy" : " copies") << ", room for "
              << s.max_entries << " remaps, journal of " << s.journal_blocks << " commits\n"
              << "  data area:         sector " << s.data_offset << ", " << s.data_sectors << " sectors ("
              << human_size(s.data_sectors << 9) << ")\n"
              << "  spare area:        sector " << s.spare_offset << ", " << s.spare_sectors << " sectors ("
              << layout::spare_blocks(s.spare_sectors, s.block_size) << " blocks)\n";
    if (!v.state) {
        std::cout << "Remap state: none readable\n";
        return;
    }
    const RemapState &st = *v.state;
    std::cout << "Remap state: commit " << st.seq << ", generation " << st.generation << "\n";
    std::cout << "Members:\n  " << std::left << std::setw(6) << "INDEX" << std::setw(7) << "ROLE" << std::setw(38)
              << "UUID" << std::setw(12) << "SPARE BLKS" << "IMAGE\n";
    for (const auto &m : st.members)
        std::cout << "  " << std::setw(6) << m.index << std::setw(7) << role_name(m.role) << std::setw(38)
                  << m.uuid.str() << std::setw(12) << layout::spare_blocks(m.spare_sectors, s.block_size)
                  << (m.image_path.empty() ? "-" : m.image_path) << "\n";
    std::cout << "Remaps: " << st.count(EntryState::Remapped) << " remapped, " << st.count(EntryState::Pending)
              << " pending, " << st.count(EntryState::Retired) << " retired spare blocks\n";
    if (st.size())
        std::cout << "  " << std::setw(20) << "BLOCK" << std::setw(10) << "STATE" << "SPARE (member:block)\n";
    for (const auto &e : st.entries()) {
        std::cout << "  " << std::setw(20) << (e.state == EntryState::Retired ? std::string("-") : std::to_string(e.data_block))
                  << std::setw(10) << state_name(e.state);
        if (e.state == EntryState::Pending)
            std::cout << "-\n";
        else
            std::cout << e.spare_index << ":" << e.spare_block << "\n";
    }
}

} // namespace

int cmd_dump(int argc, char **argv)
{
    Args a("dump", {{"json", false}, {"help", false, 'h'}}, argc, argv, 2);
    if (a.flag("help")) {
        std::cout << "Usage: dmremapctl dump [--json] MEMBER\n\nShow the member's superblock and the newest valid "
                     "remap state stored on it.\n";
        return kExitOk;
    }
    a.need(1, 1, "MEMBER");
    Opened o = open_all(a.positional());
    SetView v = Checker().run(o.ios);
    if (!v.members[0].sb)
        throw Error(Error::Code::Corrupt, a.positional()[0] + ": not a dm-remap member (no valid superblock)");
    if (a.flag("json"))
        std::cout << SetJson::dump(v, 0).dump(2) << "\n";
    else
        print_dump(v);
    if (v.report.damaged())
        std::cerr << "dmremapctl dump: " << a.positional()[0] << ": " << v.report.count(Severity::Error)
                  << " errors, " << v.report.count(Severity::Warning)
                  << " warnings; run 'dmremapctl check' for details\n";
    return kExitOk;
}

int cmd_check(int argc, char **argv)
{
    Args a("check", {{"json", false}, {"verbose", false, 'v'}, {"help", false, 'h'}}, argc, argv, 2);
    if (a.flag("help")) {
        std::cout << "Usage: dmremapctl check [--json] [--verbose] MEMBER...\n\nCheck every superblock copy, "
                     "snapshot and journal record of the members and cross-check them.\nExit status: 0 clean, 6 "
                     "damage found; 3 a member not found, 1 a member not read (dmremapctl(8)).\n";
        return kExitOk;
    }
    a.need(1, 64, "MEMBER");
    Opened o = open_all(a.positional());
    SetView v = Checker().run(o.ios);
    const bool damaged = v.report.damaged();
    if (a.flag("json")) {
        nlohmann::json j = {{"clean", !damaged},
                            {"errors", v.report.count(Severity::Error)},
                            {"warnings", v.report.count(Severity::Warning)},
                            {"problems", SetJson::problems(v.report)}};
        j["seq"] = v.state ? nlohmann::json(v.state->seq) : nlohmann::json(nullptr);
        std::cout << j.dump(2) << "\n";
    } else {
        print_problems(v.report, a.flag("verbose"), std::cout);
        std::cout << (damaged ? "damaged: " : "clean: ") << v.report.count(Severity::Error) << " errors, "
                  << v.report.count(Severity::Warning) << " warnings";
        if (v.state)
            std::cout << "; newest state is commit " << v.state->seq << " with " << v.state->size() << " entries";
        std::cout << "\n";
    }
    return damaged ? kExitDamaged : kExitOk;
}

int cmd_probe(int argc, char **argv)
{
    Args a("probe", {{"help", false, 'h'}}, argc, argv, 2);
    if (a.flag("help")) {
        std::cout << "Usage: dmremapctl probe DEV\n\nPrint udev properties (KEY=VALUE) if DEV is a dm-remap member; "
                     "print nothing otherwise.\nReads only the two superblock copies (8 KiB).\n";
        return kExitOk;
    }
    a.need(1, 1, "DEV");
    FileIo io(a.positional()[0], FileIo::Mode::ReadOnly);
    Report report;
    const MemberView mv = Checker::read_superblocks(io, report);
    if (!mv.sb) {
        // "Not a member" must not be said of a device we could not read.
        for (const auto &p : report.problems())
            if (p.code == "sb-unreadable")
                throw Error(Error::Code::Io, p.where + ": " + p.message);
        return kExitOk;
    }
    const Superblock &s = *mv.sb;
    // ID_FS_USAGE=raid keeps udev from making by-uuid links that every
    // member of a set would fight over, as for md members.
    std::cout << "ID_FS_TYPE=dm_remap_member\n"
              << "ID_FS_USAGE=raid\n"
              << "ID_FS_VERSION=" << s.version << "\n"
              << "ID_FS_UUID=" << s.set_uuid.str() << "\n"
              << "ID_FS_UUID_ENC=" << s.set_uuid.str() << "\n"
              << "ID_FS_UUID_SUB=" << s.member_uuid.str() << "\n"
              << "ID_FS_UUID_SUB_ENC=" << s.member_uuid.str() << "\n"
              << "DM_REMAP_SET_UUID=" << s.set_uuid.str() << "\n"
              << "DM_REMAP_MEMBER_UUID=" << s.member_uuid.str() << "\n"
              << "DM_REMAP_NAME=" << s.name << "\n"
              << "DM_REMAP_ROLE=" << role_name(s.role) << "\n"
              << "DM_REMAP_INDEX=" << s.member_index << "\n"
              << "DM_REMAP_GENERATION=" << s.generation << "\n"
              << "DM_REMAP_BLOCK_SIZE=" << s.block_size << "\n"
              << "DM_REMAP_DATA_SECTORS=" << s.data_sectors << "\n";
    // Left behind by a replace (docs/REPLACE.md): assembly passes it over.
    if (s.compat_flags & DMR_COMPAT_REPLACED)
        std::cout << "DM_REMAP_REPLACE=replaced\n";
    else if (s.compat_flags & DMR_COMPAT_REPLACING)
        std::cout << "DM_REMAP_REPLACE=replacing\n";
    return kExitOk;
}

int cmd_table(int argc, char **argv)
{
    Args a("table", {{"help", false, 'h'}}, argc, argv, 2);
    if (a.flag("help")) {
        std::cout << "Usage: dmremapctl table DATA_DEV [SPARE_DEV...]\n\nPrint the device-mapper table line for "
                     "the set, for\n  dmsetup create NAME --table \"$(dmremapctl table DATA_DEV SPARE_DEV...)\"\n";
        return kExitOk;
    }
    a.need(1, 64, "DATA_DEV");
    const DmTarget t = SetManager::table(a.positional());
    std::cout << t.start << " " << t.length << " " << t.type << " " << t.params << "\n";
    return kExitOk;
}

} // namespace dmremap::cli
