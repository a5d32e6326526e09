// SPDX-License-Identifier: LGPL-2.1-or-later
// One health update of an active device, the same for dm-remapd (on
// kernel events and daily) and `dmremapctl health --update` (a timer):
// read the status, append a history sample, read SMART when asked,
// assess, and rewrite the Prometheus textfile. The caller tells people
// (journal, D-Bus) about what changed.
#pragma once

#include "health.hpp"
#include "remap_device.hpp"
#include "scan_record.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace dmremap {

struct DeviceHealth {
    std::string name;
    std::string set_uuid;      // "" for a device without one (made by hand): no history
    DeviceStatus status;
    Health health;
    std::optional<ScanRecord> last_scan;  // last completed pass
    std::optional<ScanRecord> checkpoint; // a pass under way
    std::optional<SmartReport> smart;
    std::vector<HistorySample> history;   // as the assessment saw it
};

struct HealthUpdateOptions {
    // Append a sample ("" = read only, append nothing). A sample equal to
    // the last one in every counter is not appended unless why is "daily".
    // A "scan" sample records the bad_count and completeness of the newer
    // of scan-checkpoint.json and last-scan.json: call it after the
    // scanner has written them.
    std::string why;
    bool smart = false;        // run smartctl (slow: seconds); else the last sample's values
};

// Reads and assesses `name`; appends to its history per `opts`. Throws
// the library's Error (NotFound for a device that went away).
DeviceHealth update_health(const std::string &name, const HealthUpdateOptions &opts, std::int64_t now_time);

// Assesses from a status already read and the stored files alone (no I/O
// but the state files). dm-remapd does the same with the history cached
// across refreshes (dbus/health_keeper.cpp); this is the uncached form.
DeviceHealth assess_stored(const std::string &name, const std::string &set_uuid, const DeviceStatus &status,
                           std::int64_t now_time);

// The Prometheus textfile (node-exporter's textfile collector format):
// dm_remap_* metrics, units in the names, label device="NAME" and
// set_uuid; written atomically to <dir>/dm_remap.prom. Pure render +
// one write.
std::string render_metrics(const std::vector<DeviceHealth> &devices, std::int64_t now_time);
void write_metrics(const std::filesystem::path &dir, const std::vector<DeviceHealth> &devices, std::int64_t now_time);

} // namespace dmremap
