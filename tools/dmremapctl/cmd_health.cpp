// SPDX-License-Identifier: GPL-2.0-or-later
// health: the state, its reasons, the spare-exhaustion forecast, the last
// scan and SMART of active devices (docs/HEALTH.md); --check for timers
// and monitoring agents; --update for the daily timer.
#include "args.hpp"
#include "backend.hpp"
#include "commands.hpp"

#include <error.hpp>
#include <health_monitor.hpp>

#include <ctime>
#include <iostream>
#include <unistd.h>

namespace dmremap::cli {
namespace {

// As dm-remapd's default: node-exporter's textfile directory when it exists.
constexpr const char *kDefaultMetricsDir = "/var/lib/prometheus/node-exporter";

std::string date_of(std::int64_t t)
{
    char buf[32];
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
    return buf;
}

nlohmann::json scan_json(const std::optional<ScanRecord> &r)
{
    return r ? nlohmann::json(*r) : nlohmann::json(nullptr);
}

nlohmann::json smart_json(const std::optional<SmartReport> &s)
{
    if (!s)
        return nullptr;
    nlohmann::json j = {{"available", s->available}, {"device", s->device}, {"protocol", s->protocol},
                        {"model", s->model}, {"serial", s->serial}, {"values", s->values()}};
    j["passed"] = s->passed ? nlohmann::json(*s->passed) : nlohmann::json(nullptr);
    if (!s->error.empty())
        j["error"] = s->error;
    return j;
}

nlohmann::json device_json(const DeviceHealth &d)
{
    nlohmann::json j = to_json(d.health);
    j["name"] = d.name;
    j["set_uuid"] = d.set_uuid;
    j["remapped"] = d.status.target.remapped;
    j["pending"] = d.status.target.pending;
    j["spare_used"] = d.status.target.spare_used;
    j["spare_total"] = d.status.target.spare_total;
    j["last_scan"] = scan_json(d.last_scan);
    j["scan_in_progress"] = d.checkpoint && !d.checkpoint->complete ? scan_json(d.checkpoint) : nullptr;
    j["smart"] = smart_json(d.smart);
    return j;
}

void print_human(const DeviceHealth &d)
{
    const Health &h = d.health;
    std::string state = health_state_name(h.state);
    for (auto &c : state)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const TargetStatus &t = d.status.target;
    std::cout << d.name << ": " << state << "\n";
    for (const auto &r : h.reasons)
        std::cout << "  " << health_state_name(r.severity) << std::string(9 - std::strlen(health_state_name(r.severity)), ' ')
                  << r.code << ": " << r.message << "\n";
    std::cout << "  spare blocks: " << t.spare_used << " of " << t.spare_total << " used; " << t.remapped
              << " remapped, " << t.pending << " pending\n";
    std::cout << "  forecast:     " << h.forecast.summary << "\n";
    if (d.last_scan)
        std::cout << "  last scan:    " << date_of(d.last_scan->pass_start) << " to " << date_of(d.last_scan->end)
                  << ", " << d.last_scan->blocks << " blocks, " << d.last_scan->bad_count << " unreadable\n";
    else
        std::cout << "  last scan:    none completed\n";
    if (d.checkpoint && !d.checkpoint->complete && d.checkpoint->blocks)
        std::cout << "  scan pass:    under way since " << date_of(d.checkpoint->pass_start) << ", "
                  << d.checkpoint->next_block * 100 / d.checkpoint->blocks << "% done (resumes at block "
                  << d.checkpoint->next_block << ")\n";
    if (!d.smart)
        std::cout << "  SMART:        not read\n";
    else if (!d.smart->available)
        std::cout << "  SMART:        not available (" << d.smart->error << ")\n";
    else {
        std::cout << "  SMART:        " << d.smart->device << " " << d.smart->protocol << " " << d.smart->model
                  << ": " << (d.smart->passed ? (*d.smart->passed ? "passed" : "FAILED") : "no overall assessment");
        for (const auto &[k, v] : d.smart->values())
            if (k != "smart_passed")
                std::cout << ", " << k << "=" << v;
        std::cout << "\n";
    }
}

} // namespace

int cmd_health(int argc, char **argv)
{
    Args a("health",
           {{"help", false, 'h'}, {"json", false}, {"check", false}, {"update", false}, {"no-smart", false},
            {"metrics-dir", true}, {"daily", false}},
           argc, argv, 2);
    if (a.flag("help")) {
        std::cout << "Usage: dmremapctl health [NAME...] [--json] [--check] [--no-smart]\n"
                     "       dmremapctl health --update [NAME...] [--daily] [--metrics-dir DIR] [--json]\n\n"
                     "Health state (ok, warning, failing) with its reasons, the spare exhaustion\n"
                     "forecast, the last scan and SMART of active devices (all without NAME).\n"
                     "See docs/HEALTH.md for every state and reason.\n\n"
                     "  --json          one JSON array of devices\n"
                     "  --check         exit 0 when all are ok, 7 when any is warning, 8 when any is failing\n"
                     "  --no-smart      do not run smartctl\n"
                     "  --update        also record a history sample (and SMART values) and rewrite the\n"
                     "                  Prometheus textfile: what the daily timer runs (root)\n"
                     "  --daily         with --update: the day's sample, kept even when no counter\n"
                     "                  changed (dm-remap-health.timer), so a quiet device has one a day\n"
                     "  --metrics-dir   where the textfile goes (default " << kDefaultMetricsDir
                  << " when it exists; \"\" for none)\n";
        return kExitOk;
    }
    const bool update = a.flag("update");
    if (a.value("metrics-dir") && !update)
        throw UsageError("health: --metrics-dir goes with --update");
    if (a.flag("daily") && !update)
        throw UsageError("health: --daily goes with --update");
    if (update && a.flag("check"))
        throw UsageError("health: --update and --check are separate runs");
    const auto backend = make_backend("health");
    const auto names = a.positional().empty() ? backend->names() : a.positional();
    const std::int64_t now = std::time(nullptr);
    std::vector<DeviceHealth> all;
    for (const auto &n : names) {
        if (update) {
            if (::geteuid() != 0)
                throw Error(Error::Code::Failed, "--update records the history as root (the daily timer runs it)", EPERM);
            all.push_back(update_health(n, {a.flag("daily") ? "daily" : "update", !a.flag("no-smart")}, now));
        } else {
            all.push_back(backend->health(n, !a.flag("no-smart")));
        }
    }
    if (update) {
        std::string dir = a.value("metrics-dir").value_or("");
        if (!a.value("metrics-dir") && ::access(kDefaultMetricsDir, W_OK) == 0)
            dir = kDefaultMetricsDir;
        if (!dir.empty())
            write_metrics(dir, all, now);
        // dm-remapd, if it runs, shows the new sample and SMART values.
        for (const auto &d : all)
            backend->notify_changed(d.name);
    }
    int worst = 0;
    nlohmann::json out = nlohmann::json::array();
    for (const auto &d : all) {
        worst = std::max(worst, static_cast<int>(d.health.state));
        if (a.flag("json"))
            out.push_back(device_json(d));
        else
            print_human(d);
    }
    if (a.flag("json"))
        std::cout << out.dump(2) << "\n";
    else if (names.empty())
        std::cout << "no active dm-remap devices\n";
    if (!a.flag("check"))
        return kExitOk;
    return worst == static_cast<int>(HealthState::Failing)   ? kExitHealthFailing
           : worst == static_cast<int>(HealthState::Warning) ? kExitHealthWarning
                                                             : kExitOk;
}

} // namespace dmremap::cli
