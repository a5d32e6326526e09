// SPDX-License-Identifier: LGPL-2.1-or-later
// update_health and assess_stored of health_monitor.hpp; the metrics
// textfile is in metrics.cpp.
#include "health_monitor.hpp"

#include "discovery.hpp"
#include "error.hpp"
#include "history.hpp"
#include "state_store.hpp"

#include <fstream>
#include <sstream>

namespace dmremap {
namespace {

constexpr const char *kHistoryFile = "history.jsonl";
constexpr const char *kLastScanFile = "last-scan.json";
constexpr const char *kCheckpointFile = "scan-checkpoint.json";

// A reader (`dmremapctl health` as any user, the daemon at start) must not
// create the state directory nor need its lock: every file in it is
// replaced by rename or appended whole lines, so a lockless read sees a
// consistent file. Unreadable or malformed means unknown, not an error.
std::optional<std::string> read_file(const std::filesystem::path &p)
{
    std::ifstream in(p, std::ios::binary);
    if (!in)
        return std::nullopt;
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::optional<ScanRecord> read_scan(const std::filesystem::path &p)
{
    const auto text = read_file(p);
    if (!text)
        return std::nullopt;
    const auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return std::nullopt;
    try {
        return j.get<ScanRecord>();
    } catch (const nlohmann::json::exception &) {
        return std::nullopt;
    }
}

std::vector<HistorySample> read_history(const std::filesystem::path &p)
{
    try {
        return History(p).load();
    } catch (const Error &) {
        return {};
    }
}

// SMART values as the newest sample that has them recorded them, for an
// assessment that does not run smartctl itself.
std::optional<SmartReport> smart_from_history(const std::vector<HistorySample> &history)
{
    for (auto it = history.rbegin(); it != history.rend(); ++it)
        if (!it->smart.empty())
            return SmartReport::from_values(it->smart);
    return std::nullopt;
}

// The newer of a pass under way and the last completed one: what a "scan"
// sample records.
const ScanRecord *newest_scan(const DeviceHealth &d)
{
    const ScanRecord *best = d.last_scan ? &*d.last_scan : nullptr;
    if (d.checkpoint && (!best || d.checkpoint->end > best->end))
        best = &*d.checkpoint;
    return best;
}

void read_state(DeviceHealth &d, const std::filesystem::path &dir)
{
    d.history = read_history(dir / kHistoryFile);
    d.last_scan = read_scan(dir / kLastScanFile);
    d.checkpoint = read_scan(dir / kCheckpointFile);
}

} // namespace

DeviceHealth update_health(const std::string &name, const HealthUpdateOptions &opts, std::int64_t now_time)
{
    RemapDevice dev(name);
    DeviceHealth d;
    d.name = name;
    d.status = dev.status();
    const auto uuid = Discovery::set_uuid_of_dm_uuid(d.status.info.uuid);
    if (uuid)
        d.set_uuid = uuid->str();
    if (opts.smart) {
        const auto members = dev.members();
        if (members.empty()) {
            d.smart.emplace();
            d.smart->error = name + ": no data member in the live table";
        } else
            d.smart = read_smart(members.front());
    }
    if (!uuid) {
        d.health = assess(d.status.target, d.history, d.last_scan, d.smart, now_time);
        return d;
    }
    if (opts.why.empty()) {
        read_state(d, StateStore::root() / d.set_uuid);
    } else {
        StateStore store(*uuid);
        const auto lock = store.lock();
        read_state(d, store.dir());
        History history(store.path(kHistoryFile));
        const std::optional<HistorySample> previous =
            d.history.empty() ? std::nullopt : std::optional<HistorySample>(d.history.back());
        HistorySample s = History::sample(d.status.target, now_time, opts.why, previous);
        if (d.smart && d.smart->available)
            s.smart = d.smart->values();
        if (opts.why == "scan") {
            if (const ScanRecord *scan = newest_scan(d)) {
                s.scan_bad = scan->bad_count;
                s.scan_complete = scan->complete;
            }
        }
        if (History::worth_appending(s, previous)) {
            history.append(s);
            d.history.push_back(s);
        }
    }
    if (!d.smart)
        d.smart = smart_from_history(d.history);
    d.health = assess(d.status.target, d.history, d.last_scan, d.smart, now_time);
    return d;
}

DeviceHealth assess_stored(const std::string &name, const std::string &set_uuid, const DeviceStatus &status,
                           std::int64_t now_time)
{
    DeviceHealth d;
    d.name = name;
    d.set_uuid = set_uuid;
    d.status = status;
    if (const auto uuid = Uuid::parse(set_uuid)) {
        d.set_uuid = uuid->str();
        read_state(d, StateStore::root() / d.set_uuid);
    }
    d.smart = smart_from_history(d.history);
    d.health = assess(d.status.target, d.history, d.last_scan, d.smart, now_time);
    return d;
}

} // namespace dmremap
