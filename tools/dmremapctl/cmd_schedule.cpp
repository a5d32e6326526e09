// SPDX-License-Identifier: GPL-2.0-or-later
// schedule: when the media scan of a device runs unattended
// (dm-remap-scan@NAME.timer); shows it, or sets it through ScanSchedule
// (root) or dm-remapd (everyone else).
#include "args.hpp"
#include "backend.hpp"
#include "commands.hpp"

#include <error.hpp>
#include <scan_schedule.hpp>

#include <ctime>
#include <iostream>

namespace dmremap::cli {
namespace {

const char *help = R"(Usage: dmremapctl schedule NAME [SPEC] [--json]

Without SPEC: when the media scan of the device NAME runs unattended
(dm-remap-scan@NAME.timer): its schedule, whether it is on, the next and
the last run. With SPEC, set it:

  weekly     the timer's own schedule (the default)
  daily, monthly, or any systemd calendar expression (systemd.time(7),
             e.g. 'Sat *-*-* 02:00'): written as a drop-in,
             /etc/systemd/system/dm-remap-scan@NAME.timer.d/schedule.conf
  off        disable and stop the timer, remove the drop-in

Each run scans for at most 4 hours and the next one resumes where it
stopped. 'systemctl list-timers dm-remap-*' lists every timer.

  --json     print the schedule as one JSON object
)";

nlohmann::json time_json(const std::optional<std::int64_t> &t)
{
    return t ? nlohmann::json(*t) : nlohmann::json(nullptr);
}

std::string date_of(const std::optional<std::int64_t> &t)
{
    if (!t)
        return "";
    char buf[32];
    const std::time_t tt = static_cast<std::time_t>(*t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
    return buf;
}

void print(const ScanScheduleState &s, bool json)
{
    if (json) {
        nlohmann::json j = {{"device", s.device},   {"timer", s.timer},
                            {"enabled", s.enabled}, {"active", s.active},
                            {"schedule", s.enabled || s.active ? s.calendar : "off"},
                            {"next_run", time_json(s.next_run)},
                            {"next_run_date", s.next_run ? nlohmann::json(date_of(s.next_run)) : nullptr},
                            {"last_run", time_json(s.last_run)},
                            {"last_run_date", s.last_run ? nlohmann::json(date_of(s.last_run)) : nullptr}};
        std::cout << j.dump() << "\n";
        return;
    }
    if (!s.enabled && !s.active) {
        std::cout << s.device << ": no scheduled scans (" << s.timer << " is not enabled)\n";
    } else {
        std::cout << s.device << ": scans " << s.calendar << " (" << s.timer << ", "
                  << (s.enabled ? "enabled" : "not enabled") << ", " << (s.active ? "running" : "stopped") << ")\n";
        std::cout << "  next run: " << (s.next_run ? date_of(s.next_run) : "none") << "\n";
    }
    std::cout << "  last run: " << (s.last_run ? date_of(s.last_run) : "never") << "\n";
}

} // namespace

std::optional<ScanScheduleSpec> scan_schedule_option(const Args &a)
{
    const auto v = a.value("scan-schedule");
    if (!v)
        return std::nullopt;
    try {
        return ScanSchedule::validate(*v);
    } catch (const Error &e) {
        if (e.code() != Error::Code::InvalidArgument)
            throw;
        throw UsageError(a.command() + ": --scan-schedule: " + e.what());
    }
}

int cmd_schedule(int argc, char **argv)
{
    Args a("schedule", {{"help", false, 'h'}, {"json", false}}, argc, argv, 2);
    if (a.flag("help")) {
        std::cout << help;
        return kExitOk;
    }
    a.need(1, 2, "NAME");
    const std::string &name = a.positional()[0];
    ScanSchedule schedule(name);
    if (a.positional().size() == 2) {
        ScanScheduleSpec spec;
        try {
            spec = ScanSchedule::validate(a.positional()[1]);
        } catch (const Error &e) {
            if (e.code() != Error::Code::InvalidArgument)
                throw;
            throw UsageError(std::string("schedule: ") + e.what());
        }
        make_backend("schedule")->set_scan_schedule(name, spec);
    }
    // Anyone may read a unit's state: no need for dm-remapd here.
    print(schedule.state(), a.flag("json"));
    return kExitOk;
}

} // namespace dmremap::cli
