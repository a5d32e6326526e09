// SPDX-License-Identifier: LGPL-2.1-or-later
// A set's health history: counters over time in <state>/<set-uuid>/
// history.jsonl, one JSON object per line, appended (O_APPEND, one write
// per line) and bounded: past max_bytes the file is rewritten atomically
// with the newest samples kept whole and older ones thinned to one per
// day. The forecast reads it; nothing else depends on it.
#pragma once

#include "scan_record.hpp"
#include "target_status.hpp"

#include <filesystem>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dmremap {

struct HistorySample {
    std::int64_t time = 0;      // unix seconds
    std::string why;            // "event", "daily", "scan", "start", "update"
    // From the metadata: survive table reloads.
    std::uint64_t remapped = 0, pending = 0, spare_used = 0, spare_total = 0;
    // The kernel's counters restart at zero with each table; these are
    // made cumulative across restarts by History::sample().
    std::uint64_t read_errors = 0, write_errors = 0, remap_events = 0;
    // The raw kernel values of this sample, to detect the next restart.
    std::uint64_t raw_read_errors = 0, raw_write_errors = 0, raw_remap_events = 0;
    // A scan that ended with this sample (why == "scan"): blocks it found
    // unreadable, and whether it completed its pass.
    std::optional<std::uint64_t> scan_bad;
    std::optional<bool> scan_complete;
    // SMART values by name ("ata_5", "ata_187", "ata_188", "ata_197",
    // "ata_198", "nvme_media_errors", "nvme_available_spare",
    // "nvme_available_spare_threshold", "nvme_percentage_used",
    // "smart_passed" 0/1), of the data device.
    std::map<std::string, std::int64_t> smart;
    bool operator==(const HistorySample &) const = default;
};

class History {
public:
    static constexpr std::uintmax_t kDefaultMaxBytes = 1024 * 1024;
    explicit History(std::filesystem::path file, std::uintmax_t max_bytes = kDefaultMaxBytes);

    // Every sample, oldest first; lines that do not parse are skipped (a
    // torn last line after a crash costs one sample, not the history).
    std::vector<HistorySample> load() const;
    // The newest sample, if any (reads the file's tail only).
    std::optional<HistorySample> last() const;
    // Appends one line; compacts first when the file is over max_bytes.
    // Error(Io) naming the file on failure.
    void append(const HistorySample &s);

    // A sample of `status` at `now`, its error counters made cumulative
    // against `previous` (a raw counter below the previous raw value means
    // the table was loaded again: its whole value is new).
    static HistorySample sample(const TargetStatus &status, std::int64_t now, const std::string &why,
                                const std::optional<HistorySample> &previous);
    // Whether `s` says anything `previous` did not: a counter, SMART value
    // or scan result moved, or it is the daily sample (a quiet device
    // still gets one point a day).
    static bool worth_appending(const HistorySample &s, const std::optional<HistorySample> &previous);
    // Older samples thinned to one per day, the newest `keep_whole` kept.
    static std::vector<HistorySample> compact(const std::vector<HistorySample> &samples, std::size_t keep_whole);
    // For a chart: the samples at or after `since`, at most `count` of
    // them (0: none) evenly spread over those, the newest always among them.
    static std::vector<HistorySample> select(const std::vector<HistorySample> &samples, std::int64_t since,
                                             std::size_t count);

    const std::filesystem::path &file() const { return file_; }

private:
    std::filesystem::path file_;
    std::uintmax_t max_bytes_;
};

} // namespace dmremap
