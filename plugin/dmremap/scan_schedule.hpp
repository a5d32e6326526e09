// SPDX-License-Identifier: LGPL-2.1-or-later
// When the media scan of a device runs: dm-remap-scan@NAME.timer (units/),
// enabled through systemd, with a drop-in for a schedule other than the
// unit's weekly one. The one place that talks to systemd about it, for
// dmremapctl (root) and dm-remapd alike; systemctl and systemd-analyze are
// run directly (no shell), so their own checks and messages apply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace dmremap {

// A schedule as given: "off", or an OnCalendar= expression ("weekly",
// "daily", "monthly", "Sun *-*-* 03:00", ...).
struct ScanScheduleSpec {
    bool off = false;
    std::string calendar; // empty when off

    // The unit's own OnCalendar=: no drop-in needed.
    bool is_default() const { return !off && calendar == "weekly"; }
};

// What a device's timer is set to now.
struct ScanScheduleState {
    std::string device;
    std::string timer;             // dm-remap-scan@NAME.timer
    bool enabled = false;          // its unit file state is "enabled"
    bool active = false;           // the timer is running (waiting to elapse)
    std::string calendar;          // OnCalendar= of the drop-in, "weekly" without one
    std::optional<std::int64_t> next_run; // unix seconds; none when inactive
    std::optional<std::int64_t> last_run; // the last time it started the scan
};

class ScanSchedule {
public:
    static constexpr const char *kTimerTemplate = "dm-remap-scan@.timer";
    static constexpr const char *kDropinName = "schedule.conf";

    // The checks that need nothing but the text: "off", or a calendar
    // expression of the characters calendar syntax uses (no newline, '%'
    // or '\' that would change the drop-in's meaning), at most 200 long.
    // Error InvalidArgument naming the text.
    static ScanScheduleSpec parse(const std::string &spec);
    // parse, then systemd-analyze calendar: systemd's own parser accepts it
    // and it elapses at least once more. InvalidArgument otherwise.
    static ScanScheduleSpec validate(const std::string &spec);

    // "dm-remap-scan@NAME.timer": the instance is the device name as it is
    // (%i in the units); InvalidArgument for a name systemd cannot carry
    // in a unit name ('+').
    static std::string timer_unit(const std::string &device);
    static std::string service_unit(const std::string &device);
    // The drop-in's text for a schedule other than the default.
    static std::string dropin_text(const ScanScheduleSpec &spec);

    // `device`: a device name (checked as timer_unit does). `unit_dir`:
    // where the drop-in directory goes.
    explicit ScanSchedule(std::string device, std::string unit_dir = "/etc/systemd/system");

    // What apply needs before anything else is done: systemd runs and
    // the timer unit is installed. Error Failed / NotFound naming `who`.
    // `device`: the name to be scheduled, or "" when it is not known yet
    // (a set about to be created under its default name).
    static void check_available(const std::string &who, const std::string &device);
    void check_available() const { check_available(device_, device_); }
    // apply for a set create has just made: an error says the set exists.
    static void apply_after_create(const std::string &device, const ScanScheduleSpec &spec);
    // Enables and starts the timer with `spec` (writing or removing the
    // drop-in, then daemon-reload), or for "off" disables and stops it and
    // removes the drop-in. The device must be active unless "off".
    void apply(const ScanScheduleSpec &spec) const;
    ScanScheduleState state() const;

private:
    std::string dropin_path() const;

    std::string device_;
    std::string timer_;
    std::string unit_dir_;
};

} // namespace dmremap
