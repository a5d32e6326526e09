// SPDX-License-Identifier: GPL-2.0-or-later
// The daemon's side of the health model: on every refresh of a device it
// appends a history sample when a counter moved (or daily), assesses the
// device (the library's model, as `dmremapctl health` does), journals what
// happened since the last look, and rewrites the metrics textfile. Used by
// the worker thread only, so it needs no lock.
#pragma once

#include <health_monitor.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dmremap::daemon {

struct HealthView {
    Health health;
    std::optional<ScanRecord> last_scan, checkpoint;
};

class HealthKeeper {
public:
    // `metrics_dir` "": no textfile.
    explicit HealthKeeper(std::filesystem::path metrics_dir);

    // `set_uuid` "": a device made by hand has no state directory; it is
    // assessed from its status alone. Never throws for the state files (a
    // full or read-only /var loses history, not the device's properties).
    HealthView observe(const std::string &name, const std::string &set_uuid, const DeviceStatus &status,
                       const std::string &why, std::int64_t now);
    void forget(const std::string &name);
    // Every device observed, into <metrics_dir>/dm_remap.prom.
    void write_metrics(std::int64_t now);

private:
    struct Known {
        std::optional<TargetStatus> last;            // as last observed
        std::vector<HistorySample> history;          // cached file contents
        std::optional<std::filesystem::file_time_type> history_mtime;
        std::uintmax_t history_size = 0;
        std::optional<HealthState> state;            // last journalled
        std::vector<std::string> codes;
        std::int64_t last_scan_end = 0;              // last journalled scan
        DeviceHealth view;                           // for the metrics
        std::string inputs;                          // what the last assessment was made of
    };
    // Loads the history file again when it changed on disk (a timer's
    // `dmremapctl health --update` or a scan appended to it).
    void reload_history(Known &k, const std::filesystem::path &file);
    // After our own append (already in the cache): no re-parse of the file
    // unless the append compacted it.
    void note_own_append(Known &k, const std::filesystem::path &file);
    void journal_changes(const std::string &name, const std::string &set_uuid, const TargetStatus &before,
                         const TargetStatus &now);

    std::filesystem::path metrics_dir_;
    bool metrics_error_logged_ = false;
    std::map<std::string, Known> known_;
};

} // namespace dmremap::daemon
