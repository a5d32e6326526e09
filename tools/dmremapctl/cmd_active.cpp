// SPDX-License-Identifier: GPL-2.0-or-later
// Starting and stopping sets: assemble, stop.
#include "args.hpp"
#include "backend.hpp"
#include "commands.hpp"

#include <error.hpp>
#include <incremental.hpp>
#include <discovery.hpp>
#include <remap_device.hpp>
#include <set_manager.hpp>
#include <validator.hpp>

#include <iostream>
#include <cerrno>
#include <unistd.h>

namespace dmremap::cli {
namespace {

const char *assemble_help = R"(Usage: dmremapctl assemble [OPTIONS] MEMBER...
       dmremapctl assemble [OPTIONS] --uuid UUID
       dmremapctl assemble [OPTIONS] --all
       dmremapctl assemble --incremental (--uuid UUID | --all)
       dmremapctl assemble --last-resort [--degraded] --uuid UUID

Activate existing remap sets as /dev/mapper/NAME. Members not given are
found through udev (or by reading superblocks); spares kept in image files
get their loop devices set up again.

Options:
  --uuid UUID   the set with this UUID
  --all         every set whose data member is present and that is not active
  --degraded    start without missing spares (their blocks read as errors
                until they return)
  --name NAME   device name instead of the set's name (not with --all)
  --json        print what was activated as JSON

Boot-time assembly (run by systemd units that udev starts; root only):
  --incremental  start the set if every member is present, attach spares
                 that came back to a running device, else say what the set
                 waits for (exit 0)
  --last-resort  the end of the wait: start without missing spares if
                 --degraded is given; otherwise, and always when the data
                 member is missing, name the missing member and fail
)";

nlohmann::json set_json(const AssembledSet &s)
{
    return {{"name", s.name},
            {"device", "/dev/mapper/" + s.name},
            {"set_uuid", s.set_uuid.str()},
            {"members", s.members},
            {"missing", s.missing},
            {"failed", s.failed},
            {"attached", s.attached},
            {"refused", s.refused},
            {"already_active", s.already_active}};
}

void print_set(const AssembledSet &s)
{
    if (s.already_active) {
        std::cout << s.name << ": already active\n";
        return;
    }
    std::cout << "Assembled /dev/mapper/" << s.name << " from";
    for (const auto &m : s.members)
        std::cout << " " << m;
    std::cout << "\n";
    for (const auto &l : s.attached)
        std::cout << "  attached image spare as " << l << "\n";
    for (auto i : s.missing)
        std::cout << "  started WITHOUT spare member " << i << " (degraded)\n";
    for (const auto &r : s.refused)
        std::cout << "  " << r << "\n";
    for (auto i : s.failed)
        std::cout << "  spare member " << i << " FAILED while the set ran and was left out; remove it with "
                  << "'dmremapctl spare remove " << s.name << " index=" << i << "'\n";
}

void print_step(const IncrementalStep &s)
{
    const std::string who = "set '" + s.set_name + "' (" + s.set_uuid.str() + ")";
    switch (s.outcome) {
    case IncrementalStep::Outcome::Started:
        print_set(*s.set);
        break;
    case IncrementalStep::Outcome::StartedDegraded:
        print_set(*s.set);
        // stderr: the journal shows it with the unit, at warning level.
        std::cerr << "dmremapctl assemble: " << who << " started degraded after waiting: " << s.missing << "\n";
        break;
    case IncrementalStep::Outcome::Active:
        for (auto i : s.rejoined)
            std::cout << s.device << ": spare member " << i << " is back and attached\n";
        for (const auto &why : s.refused)
            std::cerr << "dmremapctl assemble: " << s.device << ": " << why << "\n";
        break;
    case IncrementalStep::Outcome::Waiting:
        std::cout << who << ": waiting: " << s.missing << "\n";
        break;
    case IncrementalStep::Outcome::LeftAlone:
        std::cout << who << ": started in this boot and stopped since, or not waiting for members; left as it is\n";
        break;
    }
}

nlohmann::json step_json(const IncrementalStep &s)
{
    nlohmann::json j = s.set ? set_json(*s.set) : nlohmann::json{{"name", s.device}};
    j["set_uuid"] = s.set_uuid.str();
    j["set_name"] = s.set_name;
    j["outcome"] = outcome_name(s.outcome);
    j["rejoined"] = s.rejoined;
    if (!s.set) // a started set's own list (set_json) says the same
        j["refused"] = s.refused;
    j["waiting_for"] = s.missing.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.missing);
    if (!s.error.empty())
        j["error"] = s.error;
    return j;
}

// --incremental, --last-resort: the library directly, as the units run
// as root before dm-remapd is up.
int boot_step(const Args &a)
{
    const bool last_resort = a.flag("last-resort");
    if (a.flag("incremental") && last_resort)
        throw UsageError("assemble: --incremental and --last-resort do not go together");
    if (a.value("name") || !a.positional().empty())
        throw UsageError("assemble: --incremental and --last-resort take --uuid UUID or --all, not members or --name");
    if (a.flag("degraded") && !last_resort)
        throw UsageError("assemble: --incremental never starts degraded; the last-resort step decides");
    if (::geteuid() != 0)
        throw Error(Error::Code::Failed, "assemble: --incremental and --last-resort need root; the boot units run them", EPERM);
    if (a.flag("all")) {
        if (last_resort)
            throw UsageError("assemble: --last-resort takes --uuid UUID");
        nlohmann::json all = nlohmann::json::array();
        int rc = kExitOk;
        for (const auto &s : Incremental::step_all()) {
            if (a.flag("json"))
                all.push_back(step_json(s));
            else if (s.error.empty())
                print_step(s);
            if (!s.error.empty()) {
                std::cerr << "dmremapctl assemble: set '" << s.set_name << "' (" << s.set_uuid.str()
                          << "): " << s.error << "\n";
                rc = kExitFailed;
            }
        }
        if (a.flag("json"))
            std::cout << all.dump(2) << "\n";
        return rc;
    }
    const auto u = a.value("uuid");
    if (!u)
        throw UsageError("assemble: --incremental and --last-resort take --uuid UUID or --all");
    auto uuid = Uuid::parse(*u);
    if (!uuid)
        throw UsageError("assemble: --uuid '" + *u + "' is not a UUID");
    const IncrementalStep s = Incremental::step(*uuid, last_resort, a.flag("degraded"));
    if (a.flag("json"))
        std::cout << step_json(s).dump(2) << "\n";
    else
        print_step(s);
    return kExitOk;
}

} // namespace

int cmd_assemble(int argc, char **argv)
{
    Args a("assemble", {{"uuid", true}, {"all", false}, {"degraded", false}, {"name", true}, {"json", false},
                        {"incremental", false}, {"last-resort", false}, {"help", false, 'h'}},
           argc, argv, 2);
    if (a.flag("help")) {
        std::cout << assemble_help;
        return kExitOk;
    }
    if (a.flag("incremental") || a.flag("last-resort"))
        return boot_step(a);
    AssembleOptions o;
    o.degraded = a.flag("degraded");
    if (auto n = a.value("name")) {
        if (!validator::valid_name(*n))
            throw UsageError("assemble: --name '" + *n + "' is not a valid device name (" + validator::kNameRules +
                             ")");
        o.name = *n;
    }
    const int ways = (a.value("uuid") ? 1 : 0) + (a.flag("all") ? 1 : 0) + (a.positional().empty() ? 0 : 1);
    if (ways != 1)
        throw UsageError("assemble: give MEMBER..., --uuid UUID or --all (exactly one)");
    if (a.flag("all") && !o.name.empty())
        throw UsageError("assemble: --name does not go with --all");
    if (a.flag("all")) {
        nlohmann::json all = nlohmann::json::array();
        int rc = kExitOk;
        for (const auto &r : make_backend("assemble")->assemble_all(o)) {
            if (a.flag("json")) {
                nlohmann::json j = r.set ? set_json(*r.set) : nlohmann::json{{"name", r.set_name}};
                j["set_uuid"] = r.set_uuid.str();
                j["error"] = r.set ? nlohmann::json(nullptr) : nlohmann::json(r.error);
                all.push_back(j);
            } else if (r.set) {
                print_set(*r.set);
            }
            if (!r.set) {
                std::cerr << "dmremapctl assemble: set '" << r.set_name << "' (" << r.set_uuid.str()
                          << "): " << r.error << "\n";
                rc = kExitFailed;
            }
        }
        if (a.flag("json"))
            std::cout << all.dump(2) << "\n";
        return rc;
    }
    AssembledSet s;
    if (auto u = a.value("uuid")) {
        auto uuid = Uuid::parse(*u);
        if (!uuid)
            throw UsageError("assemble: --uuid '" + *u + "' is not a UUID");
        s = make_backend("assemble")->assemble(*uuid, o);
    } else {
        a.need(1, 64, "MEMBER");
        s = make_backend("assemble")->assemble(a.positional(), o);
    }
    if (a.flag("json"))
        std::cout << set_json(s).dump(2) << "\n";
    else
        print_set(s);
    return kExitOk;
}

int cmd_members(int argc, char **argv)
{
    Args a("members", {{"json", false}, {"help", false, 'h'}}, argc, argv, 2);
    if (a.flag("help")) {
        std::cout << "Usage: dmremapctl members [--json]\n\nEvery dm-remap member on this system (from udev, or by "
                     "reading superblocks\nwhere udev has no record) and the active device using it.\n";
        return kExitOk;
    }
    a.need(0, 0, "");
    nlohmann::json all = nlohmann::json::array();
    for (const auto &m : make_backend("members")->members()) {
        if (a.flag("json")) {
            all.push_back({{"device", m.devnode},
                           {"set_uuid", m.set_uuid.str()},
                           {"set_name", m.set_name},
                           {"member_uuid", m.member_uuid.str()},
                           {"role", role_name(m.role)},
                           {"index", m.index},
                           {"generation", m.generation},
                           {"source", m.from_udev ? "udev" : "superblock"},
                           {"active", m.active ? nlohmann::json(*m.active) : nlohmann::json(nullptr)}});
        } else {
            std::cout << m.devnode << " " << m.set_name << " " << role_name(m.role) << " " << m.index
                      << " generation=" << m.generation << " " << (m.active ? "active=" + *m.active : "inactive")
                      << "\n";
        }
    }
    if (a.flag("json"))
        std::cout << all.dump(2) << "\n";
    return kExitOk;
}

int cmd_stop(int argc, char **argv)
{
    Args a("stop", {{"help", false, 'h'}}, argc, argv, 2);
    if (a.flag("help")) {
        std::cout << "Usage: dmremapctl stop NAME...\n\nDeactivate dm-remap devices. The metadata on the members "
                     "stays;\n'dmremapctl assemble' brings them back. Refused while a device is mounted\nor open.\n";
        return kExitOk;
    }
    a.need(1, 64, "NAME");
    const auto backend = make_backend("stop");
    for (const auto &n : a.positional()) {
        backend->stop(n);
        std::cout << "Stopped " << n << "\n";
    }
    return kExitOk;
}

} // namespace dmremap::cli
