// SPDX-License-Identifier: GPL-2.0-or-later
// Commands on active devices, read-only: status, list.
#include "args.hpp"
#include "commands.hpp"

#include <dm_control.hpp>
#include <error.hpp>
#include <target_status.hpp>

#include <nlohmann/json.hpp>

#include <iostream>

namespace dmremap::cli {
namespace {

struct Active {
    DmInfo info;
    TargetStatus status;
    std::vector<SpareStat> spares;
};

// The device's one target, if it is a dm-remap device.
std::optional<DmTarget> remap_target(DmControl &dm, const std::string &name)
{
    const auto t = dm.status(name);
    if (t.size() != 1 || t[0].type != "remap")
        return std::nullopt;
    return t[0];
}

Active read_active(DmControl &dm, const std::string &name)
{
    const auto info = dm.info(name);
    if (!info)
        throw Error(Error::Code::NotFound, name + ": no such device-mapper device");
    const auto t = remap_target(dm, name);
    if (!t)
        throw Error(Error::Code::InvalidArgument, name + ": not a dm-remap device");
    return {*info, parse_status(t->params), parse_spare_stats(dm.message(name, "spare_stats"))};
}

std::string state_of(const Active &a)
{
    if (a.info.suspended)
        return "suspended";
    if (a.status.degraded)
        return "degraded";
    if (a.status.exhausted)
        return "spare-exhausted";
    return "active";
}

nlohmann::json to_json(const std::string &name, const Active &a)
{
    const TargetStatus &s = a.status;
    nlohmann::json spares = nlohmann::json::array();
    for (const auto &sp : a.spares) {
        nlohmann::json j = {{"index", sp.index}, {"device", sp.device == "-" ? nullptr : nlohmann::json(sp.device)},
                            {"total", sp.total}, {"live", sp.live}, {"state", sp.state}};
        j["used"] = sp.used ? nlohmann::json(*sp.used) : nlohmann::json(nullptr);
        j["free"] = sp.free ? nlohmann::json(*sp.free) : nlohmann::json(nullptr);
        spares.push_back(j);
    }
    return {{"name", name},
            {"uuid", a.info.uuid},
            {"device", "/dev/dm-" + std::to_string(a.info.minor)},
            {"state", state_of(a)},
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
            {"spares", spares}};
}

void print_human(const std::string &name, const Active &a)
{
    const TargetStatus &s = a.status;
    std::cout << name << ": " << state_of(a) << ", " << s.remapped << " remapped, " << s.pending << " pending";
    if (s.degraded)
        std::cout << ", " << s.unavailable << " on missing spares";
    std::cout << "\n  spare blocks: " << s.spare_used << " of " << s.spare_total << " used";
    if (s.spare_total)
        std::cout << " (" << s.spare_used * 100 / s.spare_total << "%)";
    std::cout << "\n  errors seen:  " << s.read_errors << " read, " << s.write_errors << " write; " << s.remap_events
              << " blocks remapped, " << s.healed << " healed\n"
              << "  metadata:     " << (s.metadata_ok ? "ok" : "DEGRADED (a member failed a metadata write)")
              << ", commit " << s.seq << "\n";
    for (const auto &sp : a.spares) {
        std::cout << "  member " << sp.index << " " << (sp.index ? "spare" : "data ") << " " << sp.device << ": ";
        if (sp.state == "missing")
            std::cout << "MISSING, " << sp.live << " blocks unavailable\n";
        else
            std::cout << *sp.used << "/" << sp.total << " spare blocks used, " << sp.live << " live"
                      << (sp.state == "ok" ? "" : ", " + sp.state) << "\n";
    }
}

std::vector<std::string> remap_names(DmControl &dm)
{
    std::vector<std::string> out;
    for (const auto &n : dm.names())
        if (remap_target(dm, n))
            out.push_back(n);
    return out;
}

} // namespace

int cmd_status(int argc, char **argv)
{
    Args a("status", {{"help", false, 'h'}, {"json", false}}, argc, argv, 2);
    if (a.flag("help")) {
        std::cout << "Usage: dmremapctl status [NAME...] [--json]\n\nState, remapped and pending blocks, spare use "
                     "per member and error counters\nof active dm-remap devices (all of them without NAME).\n";
        return kExitOk;
    }
    DmControl dm;
    const auto names = a.positional().empty() ? remap_names(dm) : a.positional();
    nlohmann::json all = nlohmann::json::array();
    for (const auto &n : names) {
        const Active act = read_active(dm, n);
        if (a.flag("json"))
            all.push_back(to_json(n, act));
        else
            print_human(n, act);
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
    DmControl dm;
    nlohmann::json all = nlohmann::json::array();
    for (const auto &n : remap_names(dm)) {
        const Active act = read_active(dm, n);
        if (a.flag("json"))
            all.push_back({{"name", n}, {"uuid", act.info.uuid}, {"state", state_of(act)},
                           {"remapped", act.status.remapped}, {"pending", act.status.pending}});
        else
            std::cout << n << " " << state_of(act) << " remapped=" << act.status.remapped
                      << " pending=" << act.status.pending << "\n";
    }
    if (a.flag("json"))
        std::cout << all.dump(2) << "\n";
    return kExitOk;
}

} // namespace dmremap::cli
