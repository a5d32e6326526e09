// SPDX-License-Identifier: LGPL-2.1-or-later
#include "scan_schedule.hpp"

#include "error.hpp"
#include "subprocess.hpp"
#include "remap_device.hpp"
#include "validator.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace dmremap {
namespace {

// daemon-reload on a busy machine (or a TCG guest) takes seconds; a
// systemctl that does not answer in two minutes will not.
constexpr auto kTimeout = std::chrono::seconds(120);
constexpr std::size_t kMaxSpec = 200;

struct Ran {
    int status = -1; // exit status; -1 when killed or not started
    std::string out, err;
};

Ran run(const std::vector<std::string> &args)
{
    ProcessResult p = run_process(args, kTimeout);
    if (!p.started)
        throw Error(Error::Code::Failed, args[0] + ": " + p.error);
    Ran r{p.status, std::move(p.out), std::move(p.err)};
    if (p.timed_out)
        r.err = args[0] + " did not finish within " + std::to_string(kTimeout.count()) + " s";
    return r;
}

std::string trimmed(std::string s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    std::size_t i = 0;
    while (i < s.size() && s[i] == ' ')
        i++;
    return s.substr(i);
}

// systemctl's own words when it fails (they name the unit and the cause).
std::string why(const Ran &r)
{
    std::string e = trimmed(r.err);
    if (e.empty())
        e = "exit status " + std::to_string(r.status);
    std::replace(e.begin(), e.end(), '\n', ' ');
    return e;
}

// The characters of systemd.time(7)'s calendar events: weekdays and
// keywords, dates, times, ranges (..), repetition (/), lists (,), the last
// days of a month (~), time zones (Europe/Berlin, Etc/GMT+1, UTC).
bool calendar_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' || c == '*' ||
           c == ':' || c == ',' || c == '.' || c == '/' || c == '~' || c == '+' || c == '-' || c == '_';
}

std::map<std::string, std::string> show(const std::string &unit, const std::string &props)
{
    const Ran r = run({"systemctl", "show", "--no-pager", "--property=" + props, unit});
    if (r.status != 0)
        throw Error(Error::Code::Failed, unit + ": systemctl show: " + why(r));
    std::map<std::string, std::string> out;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);)
        if (const auto eq = line.find('='); eq != std::string::npos)
            out[line.substr(0, eq)] = line.substr(eq + 1);
    return out;
}

// sd-bus's object path label (bus_label_escape): [A-Za-z0-9] as they are,
// every other byte _xx.
std::string bus_label(const std::string &s)
{
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (const char c : s) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            out += c;
        } else {
            const auto u = static_cast<unsigned char>(c);
            out += '_';
            out += hex[u >> 4];
            out += hex[u & 15];
        }
    }
    return out;
}

// The timer's next and last elapse as unix seconds, from systemd's Timer
// properties in microseconds (systemctl show formats them for people).
// 0 (and UINT64_MAX) mean none.
std::pair<std::optional<std::int64_t>, std::optional<std::int64_t>> elapses(const std::string &unit)
{
    const Ran r = run({"busctl", "--system", "get-property", "org.freedesktop.systemd1",
                       "/org/freedesktop/systemd1/unit/" + bus_label(unit), "org.freedesktop.systemd1.Timer",
                       "NextElapseUSecRealtime", "LastTriggerUSec"});
    if (r.status != 0)
        throw Error(Error::Code::Failed, unit + ": busctl get-property: " + why(r));
    std::istringstream in(r.out);
    std::optional<std::int64_t> v[2];
    for (auto &x : v) {
        std::string type;
        std::uint64_t usec = 0;
        if (!(in >> type >> usec) || type != "t")
            throw Error(Error::Code::Failed, unit + ": unexpected answer from busctl: " + trimmed(r.out));
        if (usec != 0 && usec != UINT64_MAX)
            x = static_cast<std::int64_t>(usec / 1000000);
    }
    return {v[0], v[1]};
}

} // namespace

ScanScheduleSpec ScanSchedule::parse(const std::string &spec)
{
    if (spec == "off")
        return {true, ""};
    if (spec.empty())
        throw Error(Error::Code::InvalidArgument, "scan schedule: empty (weekly, daily, monthly, off or a calendar "
                                                  "expression as systemd.time(7) describes)");
    if (spec.size() > kMaxSpec)
        throw Error(Error::Code::InvalidArgument,
                    "scan schedule: longer than " + std::to_string(kMaxSpec) + " characters");
    for (char c : spec) {
        if (calendar_char(c))
            continue;
        const auto u = static_cast<unsigned char>(c);
        // Not echoed: a newline or escape sequence would garble the message.
        if (u < 0x20 || u >= 0x7f)
            throw Error(Error::Code::InvalidArgument, "scan schedule: byte " + std::to_string(u) +
                                                          " is not part of a calendar expression (systemd.time(7))");
        throw Error(Error::Code::InvalidArgument, "scan schedule '" + spec + "': '" + std::string(1, c) +
                                                      "' is not part of a calendar expression (systemd.time(7))");
    }
    if (spec.front() == ' ' || spec.back() == ' ')
        throw Error(Error::Code::InvalidArgument, "scan schedule '" + spec + "': starts or ends with a space");
    return {false, spec};
}

ScanScheduleSpec ScanSchedule::validate(const std::string &spec)
{
    ScanScheduleSpec s = parse(spec);
    if (s.off)
        return s;
    const Ran r = run({"systemd-analyze", "calendar", "--iterations=1", s.calendar});
    if (r.status != 0) {
        // systemd-analyze says "Failed to parse calendar specification '...': Invalid argument".
        const std::string e = why(r);
        throw Error(Error::Code::InvalidArgument, "scan schedule '" + s.calendar + "' is not a calendar expression (" +
                                                      e + ")");
    }
    if (r.out.find("Next elapse: never") != std::string::npos)
        throw Error(Error::Code::InvalidArgument, "scan schedule '" + s.calendar + "' never elapses again");
    return s;
}

std::string ScanSchedule::timer_unit(const std::string &device)
{
    if (!validator::valid_name(device))
        throw Error(Error::Code::InvalidArgument, "'" + device + "' is not a device name");
    if (device.find('+') != std::string::npos)
        throw Error(Error::Code::InvalidArgument,
                    device + ": scans cannot be scheduled for a name with '+' (systemd unit names cannot carry it)");
    return "dm-remap-scan@" + device + ".timer";
}

std::string ScanSchedule::service_unit(const std::string &device)
{
    std::string t = timer_unit(device);
    return t.substr(0, t.size() - std::strlen(".timer")) + ".service";
}

std::string ScanSchedule::dropin_text(const ScanScheduleSpec &spec)
{
    // The empty assignment clears the unit's weekly OnCalendar=; without
    // it the timer would elapse on both schedules.
    return "# Written by dmremapctl schedule / create --scan-schedule; 'dmremapctl schedule NAME weekly' removes it.\n"
           "[Timer]\nOnCalendar=\nOnCalendar=" +
           spec.calendar + "\n";
}

ScanSchedule::ScanSchedule(std::string device, std::string unit_dir)
    : device_(std::move(device)), timer_(timer_unit(device_)), unit_dir_(std::move(unit_dir))
{
}

std::string ScanSchedule::dropin_path() const { return unit_dir_ + "/" + timer_ + ".d/" + kDropinName; }

void ScanSchedule::check_available(const std::string &who, const std::string &device)
{
    // sd_booted(3)'s test: systemd made this directory at boot.
    struct stat st;
    if (::stat("/run/systemd/system", &st) != 0 || !S_ISDIR(st.st_mode))
        throw Error(Error::Code::Failed, who + ": cannot schedule scans: systemd is not running on this machine");
    // Any instance is loaded when the template is installed.
    const std::string timer = timer_unit(device.empty() ? "new" : device);
    const auto p = show(timer, "LoadState");
    const auto it = p.find("LoadState");
    if (it == p.end() || it->second != "loaded")
        throw Error(Error::Code::NotFound, who + ": cannot schedule scans: " + timer + " is " +
                                               (it == p.end() ? "unknown to systemd" : it->second) + " (is " +
                                               kTimerTemplate + " installed?)");
}

void ScanSchedule::apply_after_create(const std::string &device, const ScanScheduleSpec &spec)
{
    try {
        ScanSchedule(device).apply(spec);
    } catch (const Error &e) {
        throw Error(e.code(), "/dev/mapper/" + device + " was created, but its scans are not scheduled: " + e.what(),
                    e.sys_errno());
    }
}

void ScanSchedule::apply(const ScanScheduleSpec &spec) const
{
    if (!spec.off)
        RemapDevice check(device_); // NotFound naming the device
    check_available();
    auto systemctl = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {"systemctl", "--no-ask-password", "--quiet"});
        const Ran r = run(args);
        if (r.status != 0)
            throw Error(Error::Code::Failed, device_ + ": systemctl " + args[3] + " " + timer_ + ": " + why(r));
    };
    const std::filesystem::path file = dropin_path();
    std::error_code ec;
    const bool had = std::filesystem::exists(file, ec);
    if (spec.off)
        systemctl({"disable", "--now", timer_});
    if (spec.off || spec.is_default()) {
        if (had && !std::filesystem::remove(file, ec))
            throw Error(Error::Code::Failed, file.string() + ": " + ec.message());
        std::filesystem::remove(file.parent_path(), ec); // only when empty: another drop-in stays
    } else {
        std::filesystem::create_directories(file.parent_path(), ec);
        // Readable as systemd's own directories are, whatever the caller's umask.
        if (!ec)
            std::filesystem::permissions(file.parent_path(), std::filesystem::perms(0755), ec);
        if (ec)
            throw Error(Error::Code::Failed, file.parent_path().string() + ": " + ec.message());
        // Whole or not at all: a half-written drop-in would be read at the
        // next daemon-reload of anyone.
        const std::string tmp = file.string() + ".tmp";
        {
            std::ofstream f(tmp, std::ios::trunc);
            f << dropin_text(spec);
            f.flush();
            if (!f)
                throw Error(Error::Code::Failed, tmp + ": cannot write");
        }
        ::chmod(tmp.c_str(), 0644);
        if (::rename(tmp.c_str(), file.c_str()) < 0)
            throw Error::from_errno(Error::Code::Failed, file.string(), errno);
    }
    if (had || !(spec.off || spec.is_default()))
        systemctl({"daemon-reload"});
    if (spec.off)
        return;
    systemctl({"enable", timer_});
    // restart, not start: a timer already running takes the new schedule.
    systemctl({"restart", timer_});
}

ScanScheduleState ScanSchedule::state() const
{
    check_available();
    ScanScheduleState s;
    s.device = device_;
    s.timer = timer_;
    auto p = show(timer_, "UnitFileState,ActiveState");
    s.enabled = p["UnitFileState"] == "enabled";
    s.active = p["ActiveState"] == "active";
    const auto [next, last] = elapses(timer_);
    if (s.active)
        s.next_run = next;
    s.last_run = last;
    s.calendar = "weekly";
    std::ifstream f(dropin_path());
    for (std::string line; f && std::getline(f, line);)
        if (line.rfind("OnCalendar=", 0) == 0 && line.size() > std::strlen("OnCalendar="))
            s.calendar = line.substr(std::strlen("OnCalendar="));
    return s;
}

} // namespace dmremap
