// SPDX-License-Identifier: LGPL-2.1-or-later
// The Prometheus textfile of health_monitor.hpp, in the text exposition
// format 0.0.4 as `promtool check metrics` reads it: each family once,
// HELP and TYPE before its samples, its samples together; counters end
// in _total; a family without samples is left out.
#include "health_monitor.hpp"
#include "health_format.hpp"

#include "state_store.hpp"

#include <algorithm>
#include <functional>

namespace dmremap {
namespace {

std::string escape_label(const std::string &v)
{
    std::string out;
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string labels(const DeviceHealth &d, const std::string &extra = {})
{
    std::string l = "{device=\"" + escape_label(d.name) + "\",set_uuid=\"" + escape_label(d.set_uuid) + "\"";
    if (!extra.empty())
        l += "," + extra;
    return l + "}";
}

struct Sample {
    std::string labels;
    std::string value;
};

class Writer {
public:
    explicit Writer(const std::vector<DeviceHealth> &devices) : devices_(devices) {}

    // One family; `fn` adds the samples of one device (none, one or more).
    void family(const char *name, const char *type, const char *help,
                const std::function<void(const DeviceHealth &, std::vector<Sample> &)> &fn)
    {
        std::vector<Sample> samples;
        for (const auto &d : devices_)
            fn(d, samples);
        if (samples.empty())
            return;
        out_ += std::string("# HELP ") + name + " " + help + "\n";
        out_ += std::string("# TYPE ") + name + " " + type + "\n";
        for (const auto &s : samples)
            out_ += name + s.labels + " " + s.value + "\n";
    }

    // A value of every device, from `get`.
    void each(const char *name, const char *type, const char *help,
              const std::function<std::uint64_t(const DeviceHealth &)> &get)
    {
        family(name, type, help,
               [&](const DeviceHealth &d, std::vector<Sample> &s) { s.push_back({labels(d), std::to_string(get(d))}); });
    }

    std::string take() { return std::move(out_); }

private:
    const std::vector<DeviceHealth> &devices_;
    std::string out_;
};

} // namespace

std::string render_metrics(const std::vector<DeviceHealth> &devices, std::int64_t now_time)
{
    Writer w(devices);
    const char *g = "gauge", *c = "counter";
    // The kernel's status values as they are, so they equal `dmremapctl
    // status --json`; the error counters restart with each table load,
    // which Prometheus's rate() treats as a counter reset.
    w.each("dm_remap_remapped_blocks", g, "Data blocks remapped to a spare.",
           [](const DeviceHealth &d) { return d.status.target.remapped; });
    w.each("dm_remap_pending_blocks", g, "Data blocks found unreadable and not yet remapped.",
           [](const DeviceHealth &d) { return d.status.target.pending; });
    w.each("dm_remap_unavailable_blocks", g, "Remapped blocks whose spare member is missing.",
           [](const DeviceHealth &d) { return d.status.target.unavailable; });
    w.each("dm_remap_spare_used_blocks", g, "Spare blocks in use or retired.",
           [](const DeviceHealth &d) { return d.status.target.spare_used; });
    w.each("dm_remap_spare_total_blocks", g, "Spare blocks in the set.",
           [](const DeviceHealth &d) { return d.status.target.spare_total; });
    w.each("dm_remap_block_size_bytes", g, "Remap block size in bytes.",
           [](const DeviceHealth &d) { return std::uint64_t{d.status.target.block_size}; });
    w.each("dm_remap_read_errors_total", c, "Read errors seen by the target since its table was loaded.",
           [](const DeviceHealth &d) { return d.status.target.read_errors; });
    w.each("dm_remap_write_errors_total", c, "Write errors seen by the target since its table was loaded.",
           [](const DeviceHealth &d) { return d.status.target.write_errors; });
    w.each("dm_remap_remap_events_total", c, "Blocks remapped since the table was loaded.",
           [](const DeviceHealth &d) { return d.status.target.remap_events; });
    w.each("dm_remap_healed_blocks_total", c, "Pending blocks healed by a write since the table was loaded.",
           [](const DeviceHealth &d) { return d.status.target.healed; });
    w.each("dm_remap_exhausted", g, "1 when no spare block is left.",
           [](const DeviceHealth &d) { return std::uint64_t{d.status.target.exhausted}; });
    w.family("dm_remap_health_state", g, "Health state (docs/HEALTH.md): 1 for the current state, 0 for the others.",
             [](const DeviceHealth &d, std::vector<Sample> &s) {
                 for (auto st : {HealthState::Ok, HealthState::Warning, HealthState::Failing})
                     s.push_back({labels(d, std::string("state=\"") + health_state_name(st) + "\""),
                                  d.health.state == st ? "1" : "0"});
             });
    w.family("dm_remap_health_reason", g, "1 for each active health reason code (docs/HEALTH.md).",
             [](const DeviceHealth &d, std::vector<Sample> &s) {
                 // The assessment gives each code once (health.cpp); a
                 // duplicate series would break every query on it.
                 std::vector<std::string> seen;
                 for (const auto &r : d.health.reasons) {
                     if (std::find(seen.begin(), seen.end(), r.code) != seen.end())
                         continue;
                     seen.push_back(r.code);
                     s.push_back({labels(d, "code=\"" + escape_label(r.code) + "\""), "1"});
                 }
             });
    w.family("dm_remap_spare_exhaustion_timestamp_seconds", g,
             "Projected spare exhaustion, unix time; absent unless projected.",
             [](const DeviceHealth &d, std::vector<Sample> &s) {
                 const auto &f = d.health.forecast;
                 if (f.kind == Forecast::Kind::Projected && f.exhaustion)
                     s.push_back({labels(d), std::to_string(*f.exhaustion)});
             });
    w.family("dm_remap_last_scan_end_timestamp_seconds", g, "End of the last completed scan pass, unix time.",
             [](const DeviceHealth &d, std::vector<Sample> &s) {
                 if (d.last_scan)
                     s.push_back({labels(d), std::to_string(d.last_scan->end)});
             });
    w.family("dm_remap_last_scan_bad_blocks", g, "Unreadable blocks the last completed scan pass found.",
             [](const DeviceHealth &d, std::vector<Sample> &s) {
                 if (d.last_scan)
                     s.push_back({labels(d), std::to_string(d.last_scan->bad_count)});
             });
    w.family("dm_remap_scan_position_ratio", g,
             "Position of the scan pass under way, 0 to 1; 1 when the last pass completed and none is under way.",
             [](const DeviceHealth &d, std::vector<Sample> &s) {
                 if (d.checkpoint && d.checkpoint->blocks > 0 && !d.checkpoint->complete)
                     s.push_back({labels(d), format_double(static_cast<double>(d.checkpoint->next_block) /
                                                           static_cast<double>(d.checkpoint->blocks))});
                 else if (d.last_scan && d.last_scan->complete)
                     s.push_back({labels(d), "1"});
             });
    w.family("dm_remap_last_update_timestamp_seconds", g, "When this file was written, unix time.",
             [now_time](const DeviceHealth &d, std::vector<Sample> &s) {
                 s.push_back({labels(d), std::to_string(now_time)});
             });
    return w.take();
}

void write_metrics(const std::filesystem::path &dir, const std::vector<DeviceHealth> &devices, std::int64_t now_time)
{
    write_file_atomic(dir / "dm_remap.prom", render_metrics(devices, now_time), 0644);
}

} // namespace dmremap
