// SPDX-License-Identifier: GPL-2.0-or-later
// Commands that read active devices: status, list, remaps, pending.
#include "args.hpp"
#include "backend.hpp"
#include "commands.hpp"
#include "text.hpp"

#include <discovery.hpp>
#include <error.hpp>
#include <remap_device.hpp>

#include <cstdio>
#include <sys/sysmacros.h>

#include <iostream>
#include <sstream>

namespace dmremap::cli {
namespace {

nlohmann::json members_json(const TargetStatus &s)
{
    nlohmann::json out = nlohmann::json::array();
    for (const auto &m : s.members)
        out.push_back({{"index", m.index}, {"state", member_health_name(m.health)}});
    return out;
}

nlohmann::json to_json(const std::string &name, const DeviceStatus &a)
{
    const TargetStatus &s = a.target;
    return {{"name", name},
            {"uuid", a.info.uuid},
            {"device", "/dev/dm-" + std::to_string(a.info.minor)},
            {"state", a.state},
            {"metadata", s.metadata_ok ? "ok" : "degraded"},
            {"block_size", s.block_size},
            {"remapped", s.remapped},
            {"pending", s.pending},
            {"unavailable", s.unavailable},
            {"spare_used", s.spare_used},
            {"spare_total", s.spare_total},
            {"read_errors", s.read_errors},
            {"write_errors", s.write_errors},
            {"remap_events", s.remap_events},
            {"healed", s.healed},
            {"exhausted", s.exhausted},
            {"degraded", s.degraded},
            {"seq", s.seq},
            {"failed_members", s.count(MemberHealth::Failed)},
            {"members", members_json(s)},
            {"spares", spares_json(a.members)}};
}

void print_human(const std::string &name, const DeviceStatus &a)
{
    const TargetStatus &s = a.target;
    std::cout << name << ": " << a.state << ", " << s.remapped << " remapped, " << s.pending << " pending";
    if (s.degraded)
        std::cout << ", " << s.unavailable << " on missing spares";
    std::cout << "\n";
    // Its capacity is gone and blocks that lived on it read as errors
    // until written: say so before anything else.
    for (const auto &m : s.members)
        if (m.health == MemberHealth::Failed)
            std::cout << "  FAILED:       spare member " << m.index
                      << " failed while the set ran and is left out; remove it with 'dmremapctl spare remove "
                      << name << " index=" << m.index << "'\n";
        else if (m.health == MemberHealth::Gone)
            std::cout << "  GONE:         " << (m.index == 0 ? "the data member" : "spare member " + std::to_string(m.index))
                      << "'s disk left the system and I/O to it fails; 'dmremapctl stop " << name
                      << "' and assemble it once the disk is back\n";
    std::cout << "  spare blocks: " << s.spare_used << " of " << s.spare_total << " used";
    if (s.spare_total)
        std::cout << " (" << s.spare_used * 100 / s.spare_total << "%)";
    std::cout << "\n  errors seen:  " << s.read_errors << " read, " << s.write_errors << " write; " << s.remap_events
              << " blocks remapped, " << s.healed << " healed\n"
              << "  metadata:     " << (s.metadata_ok ? "ok" : "DEGRADED (a member failed a metadata write)")
              << ", commit " << s.seq << "\n";
    print_spares(a.members, "  ");
}

nlohmann::json entry_json(const RemapEntryInfo &e)
{
    nlohmann::json j = {{"block", e.block}, {"state", e.pending ? "pending" : "remapped"}};
    if (e.pending)
        j["lost"] = e.lost;
    if (!e.pending) {
        j["member"] = e.member;
        j["spare_block"] = e.spare_block;
        j["on_missing"] = e.on_missing;
    }
    return j;
}

// remaps and pending: every entry (or only pending ones), paged from the kernel.
int list_entries(int argc, char **argv, bool pending_only)
{
    const std::string cmd = pending_only ? "pending" : "remaps";
    Args a(cmd, {{"help", false, 'h'}, {"json", false}}, argc, argv, 2);
    if (a.flag("help")) {
        std::cout << "Usage: dmremapctl " << cmd << " NAME [--json]\n\n"
                  << (pending_only ? "Blocks that could not be read and return errors until written.\n"
                                   : "Every remapped and pending block of the device, from the kernel's table.\n");
        return kExitOk;
    }
    a.need(1, 1, "NAME");
    const auto backend = make_backend(cmd);
    // Printed once the device answered: a failure leaves stdout empty.
    std::ostringstream out;
    nlohmann::json all = nlohmann::json::array();
    std::uint64_t n = 0;
    const bool json = a.flag("json");
    if (!json)
        out << (pending_only ? "BLOCK\n" : "BLOCK                STATE     SPARE (member:block)\n");
    backend->for_each_remap(a.positional()[0], [&](const RemapEntryInfo &e) {
        if (pending_only && !e.pending)
            return true;
        n++;
        if (json) {
            all.push_back(entry_json(e));
        } else if (pending_only) {
            out << e.block << (e.lost ? " lost" : "") << "\n";
        } else {
            std::string b = std::to_string(e.block);
            out << b << std::string(b.size() < 21 ? 21 - b.size() : 1, ' ');
            if (e.pending)
                out << (e.lost ? "pending   lost\n" : "pending   -\n");
            else
                out << "remapped  " << e.member << ":" << e.spare_block << (e.on_missing ? " (missing)" : "")
                    << "\n";
        }
        return true;
    });
    if (json)
        out << all.dump(2) << "\n";
    else
        out << n << (pending_only ? " pending blocks\n" : " entries\n");
    std::cout << out.str();
    return kExitOk;
}

// "/dev/sdc" for the kernel's "8:32"; "" when it has no node (or is missing).
std::string node_of(const std::string &majmin)
{
    unsigned ma = 0, mi = 0;
    if (std::sscanf(majmin.c_str(), "%u:%u", &ma, &mi) != 2)
        return "";
    return Discovery::devnode(makedev(ma, mi));
}

} // namespace

nlohmann::json spares_json(const std::vector<SpareStat> &spares)
{
    nlohmann::json out = nlohmann::json::array();
    for (const auto &sp : spares) {
        const std::string node = node_of(sp.device);
        nlohmann::json j = {{"index", sp.index}, {"device", sp.device == "-" ? nullptr : nlohmann::json(sp.device)},
                            {"node", node.empty() ? nullptr : nlohmann::json(node)},
                            {"total", sp.total}, {"live", sp.live}, {"state", sp.state}};
        j["used"] = sp.used ? nlohmann::json(*sp.used) : nlohmann::json(nullptr);
        j["free"] = sp.free ? nlohmann::json(*sp.free) : nlohmann::json(nullptr);
        out.push_back(j);
    }
    return out;
}

void print_spares(const std::vector<SpareStat> &spares, const std::string &indent)
{
    for (const auto &sp : spares) {
        const std::string node = node_of(sp.device);
        std::cout << indent << "member " << sp.index << " " << (sp.index ? "spare" : "data ") << " "
                  << (node.empty() ? sp.device : node + " (" + sp.device + ")") << ": ";
        if (sp.state == "missing")
            std::cout << "MISSING, " << sp.live << " blocks unavailable\n";
        else if (!sp.used) // failed and absent from the table line: the kernel knows only its size
            std::cout << sp.total << " spare blocks, " << (sp.state == "failed" ? "FAILED" : sp.state) << "\n";
        else if (sp.state == "failed")
            std::cout << *sp.used << "/" << sp.total << " spare blocks used, FAILED\n";
        else
            std::cout << *sp.used << "/" << sp.total << " spare blocks used, " << sp.live << " live"
                      << (sp.state == "ok" ? "" : ", " + sp.state) << "\n";
    }
}

int cmd_status(int argc, char **argv)
{
    Args a("status", {{"help", false, 'h'}, {"json", false}}, argc, argv, 2);
    if (a.flag("help")) {
        std::cout << "Usage: dmremapctl status [NAME...] [--json]\n\nState, remapped and pending blocks, spare use "
                     "per member and error counters\nof active dm-remap devices (all of them without NAME).\n";
        return kExitOk;
    }
    const auto backend = make_backend("status");
    const auto names = a.positional().empty() ? backend->names() : a.positional();
    nlohmann::json all = nlohmann::json::array();
    for (const auto &n : names) {
        const DeviceStatus st = backend->status(n);
        if (a.flag("json"))
            all.push_back(to_json(n, st));
        else
            print_human(n, st);
    }
    if (a.flag("json"))
        std::cout << all.dump(2) << "\n";
    else if (names.empty())
        std::cout << "no active dm-remap devices\n";
    return kExitOk;
}

int cmd_list(int argc, char **argv)
{
    Args a("list", {{"help", false, 'h'}, {"json", false}}, argc, argv, 2);
    if (a.flag("help")) {
        std::cout << "Usage: dmremapctl list [--json]\n\nOne line per active dm-remap device.\n";
        return kExitOk;
    }
    a.need(0, 0, "");
    nlohmann::json all = nlohmann::json::array();
    const auto backend = make_backend("list");
    for (const auto &n : backend->names()) {
        const DeviceStatus st = backend->status(n);
        if (a.flag("json"))
            all.push_back({{"name", n}, {"uuid", st.info.uuid}, {"state", st.state},
                           {"remapped", st.target.remapped}, {"pending", st.target.pending}});
        else
            std::cout << n << " " << st.state << " remapped=" << st.target.remapped
                      << " pending=" << st.target.pending << "\n";
    }
    if (a.flag("json"))
        std::cout << all.dump(2) << "\n";
    return kExitOk;
}

int cmd_remaps(int argc, char **argv) { return list_entries(argc, argv, false); }
int cmd_pending(int argc, char **argv) { return list_entries(argc, argv, true); }

} // namespace dmremap::cli
