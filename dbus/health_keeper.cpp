// SPDX-License-Identifier: GPL-2.0-or-later
#include "health_keeper.hpp"

#include "journal.hpp"

#include <error.hpp>
#include <state_store.hpp>
#include <uuid.hpp>

#include <iostream>
#include <system_error>

namespace dmremap::daemon {
namespace {

std::string codes_text(const std::vector<std::string> &codes)
{
    std::string out;
    for (const auto &c : codes)
        out += (out.empty() ? "" : ", ") + c;
    return out.empty() ? "none" : out;
}

int percent(std::uint64_t used, std::uint64_t total) { return total ? static_cast<int>(used * 100 / total) : 0; }

std::optional<ScanRecord> read_record(const StateStore &store, const std::string &file)
{
    try {
        if (const auto text = store.read(file))
            return nlohmann::json::parse(*text).get<ScanRecord>();
    } catch (const std::exception &e) {
        std::cerr << "dm-remapd: " << store.path(file).string() << ": " << e.what() << "; ignored\n";
    }
    return std::nullopt;
}

} // namespace

HealthKeeper::HealthKeeper(std::filesystem::path metrics_dir) : metrics_dir_(std::move(metrics_dir)) {}

void HealthKeeper::reload_history(Known &k, const std::filesystem::path &file)
{
    std::error_code ec;
    const auto mtime = std::filesystem::last_write_time(file, ec);
    const auto size = ec ? 0 : std::filesystem::file_size(file, ec);
    if (ec) {
        k.history.clear();
        k.history_mtime.reset();
        return;
    }
    if (k.history_mtime && *k.history_mtime == mtime && k.history_size == size)
        return;
    k.history = History(file).load();
    k.history_mtime = mtime;
    k.history_size = size;
}

void HealthKeeper::note_own_append(Known &k, const std::filesystem::path &file)
{
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    // Smaller than before the append: it compacted the file, which the
    // cache must follow. Otherwise the cache already holds the new line.
    if (ec || size < k.history_size) {
        k.history_mtime.reset();
        reload_history(k, file);
        return;
    }
    k.history_size = size;
    k.history_mtime = std::filesystem::last_write_time(file, ec);
    if (ec)
        k.history_mtime.reset();
}

HealthView HealthKeeper::observe(const std::string &name, const std::string &set_uuid, const DeviceStatus &status,
                                 const std::string &why, std::int64_t now)
{
    Known &k = known_[name];
    const TargetStatus &t = status.target;
    HealthView view;
    std::optional<StateStore> store;
    // What to compare with for the journal: the last look, or after a
    // start the newest sample from before it, so what happened while
    // nobody watched is journalled too.
    std::optional<TargetStatus> baseline = k.last;
    if (const auto uuid = Uuid::parse(set_uuid)) {
        try {
            store.emplace(*uuid);
            const auto lock = store->lock();
            const auto file = store->path("history.jsonl");
            reload_history(k, file);
            const std::optional<HistorySample> previous =
                k.history.empty() ? std::nullopt : std::optional(k.history.back());
            HistorySample s = History::sample(t, now, why, previous);
            if (previous) {
                s.smart = previous->smart; // SMART is read by `dmremapctl health`, not here
                if (!baseline) {
                    baseline.emplace();
                    baseline->remapped = previous->remapped;
                    baseline->pending = previous->pending;
                    baseline->spare_used = previous->spare_used;
                    baseline->spare_total = previous->spare_total;
                }
            }
            if (History::worth_appending(s, previous)) {
                History(file).append(s);
                k.history.push_back(s);
                note_own_append(k, file);
            }
            view.last_scan = read_record(*store, "last-scan.json");
            view.checkpoint = read_record(*store, "scan-checkpoint.json");
        } catch (const std::exception &e) {
            std::cerr << "dm-remapd: " << name << ": health history: " << e.what() << "\n";
        }
    }
    // SMART values as the last `dmremapctl health --update` recorded them.
    std::optional<SmartReport> smart;
    for (auto it = k.history.rbegin(); it != k.history.rend() && !smart; ++it)
        if (!it->smart.empty())
            smart = SmartReport::from_values(it->smart);
    // The model reads the clock (the forecast's present point, "days
    // left"): assessed again only when an input moved, or daily, so a
    // Refresh that finds nothing new changes no property.
    const std::string inputs = nlohmann::json{k.history.size(),
                                              k.history.empty() ? 0 : k.history.back().time,
                                              t.remapped,
                                              t.pending,
                                              t.spare_used,
                                              t.spare_total,
                                              t.exhausted,
                                              t.degraded,
                                              t.metadata_ok,
                                              t.count(MemberHealth::Failed),
                                              t.count(MemberHealth::Missing),
                                              t.count(MemberHealth::Gone),
                                              view.last_scan ? nlohmann::json(*view.last_scan) : nullptr,
                                              smart ? smart->values() : std::map<std::string, std::int64_t>{}}
                                   .dump();
    if (why == "daily" || why == "start" || inputs != k.inputs)
        view.health = assess(t, k.history, view.last_scan, smart, now);
    else
        view.health = k.view.health;
    k.inputs = inputs;

    std::vector<std::string> codes;
    for (const auto &r : view.health.reasons)
        codes.push_back(r.code);
    if (baseline)
        journal_changes(name, set_uuid, *baseline, t);
    if (k.state ? (*k.state != view.health.state || k.codes != codes) : view.health.state != HealthState::Ok) {
        const int prio = view.health.state == HealthState::Failing   ? 2
                         : view.health.state == HealthState::Warning ? 4
                                                                     : 6;
        std::string text = std::string("health is now ") + health_state_name(view.health.state);
        for (const auto &r : view.health.reasons)
            text += "; " + r.message;
        journal(JournalEvent::HealthChanged, prio, name, set_uuid, text,
                {{"DM_REMAP_HEALTH", health_state_name(view.health.state)}, {"DM_REMAP_REASONS", codes_text(codes)}});
    }
    if (view.last_scan && view.last_scan->end != k.last_scan_end) {
        if (k.last_scan_end != 0 || k.last) {
            journal(JournalEvent::ScanFinished, view.last_scan->bad_count ? 4 : 6, name, set_uuid,
                    "scan pass completed: " + std::to_string(view.last_scan->blocks) + " blocks read, " +
                        std::to_string(view.last_scan->bad_count) + " unreadable",
                    {{"DM_REMAP_SCAN_BAD", std::to_string(view.last_scan->bad_count)}});
        }
        k.last_scan_end = view.last_scan->end;
    }
    k.state = view.health.state;
    k.codes = std::move(codes);
    k.last = t;
    k.view.name = name;
    k.view.set_uuid = set_uuid;
    k.view.status = status;
    k.view.health = view.health;
    k.view.last_scan = view.last_scan;
    k.view.checkpoint = view.checkpoint;
    return view;
}

void HealthKeeper::journal_changes(const std::string &name, const std::string &set_uuid, const TargetStatus &b,
                                   const TargetStatus &t)
{
    if (t.remapped > b.remapped)
        journal(JournalEvent::Remapped, 4, name, set_uuid,
                std::to_string(t.remapped - b.remapped) + " blocks moved to spares (" + std::to_string(t.remapped) +
                    " remapped, spare use " + std::to_string(percent(t.spare_used, t.spare_total)) + "%)",
                {{"DM_REMAP_REMAPPED", std::to_string(t.remapped)}});
    if (t.pending > b.pending)
        journal(JournalEvent::Pending, 3, name, set_uuid,
                std::to_string(t.pending - b.pending) + " blocks unreadable, now pending (" +
                    std::to_string(t.pending) + " in all); reads of them fail until they are written",
                {{"DM_REMAP_PENDING", std::to_string(t.pending)}});
    for (const int threshold : {80, 95}) {
        if (percent(b.spare_used, b.spare_total) < threshold && percent(t.spare_used, t.spare_total) >= threshold)
            journal(JournalEvent::SpareThreshold, threshold >= 95 ? 2 : 4, name, set_uuid,
                    "spare use crossed " + std::to_string(threshold) + "% (" + std::to_string(t.spare_used) +
                        " of " + std::to_string(t.spare_total) + " blocks)",
                    {{"DM_REMAP_SPARE_THRESHOLD", std::to_string(threshold)}});
    }
    if (t.exhausted && !b.exhausted)
        journal(JournalEvent::SpareExhausted, 2, name, set_uuid,
                "no spare block left: writes to new bad blocks fail; add a spare");
    if (t.count(MemberHealth::Failed) > b.count(MemberHealth::Failed))
        journal(JournalEvent::MemberFailed, 3, name, set_uuid,
                "a spare device failed and was left out; blocks on it are pending");
}

void HealthKeeper::forget(const std::string &name) { known_.erase(name); }

void HealthKeeper::write_metrics(std::int64_t now)
{
    if (metrics_dir_.empty())
        return;
    std::vector<DeviceHealth> all;
    for (const auto &[name, k] : known_)
        all.push_back(k.view);
    try {
        dmremap::write_metrics(metrics_dir_, all, now);
        metrics_error_logged_ = false;
    } catch (const std::exception &e) {
        if (!metrics_error_logged_)
            std::cerr << "dm-remapd: metrics textfile: " << e.what() << "\n";
        metrics_error_logged_ = true;
    }
}

} // namespace dmremap::daemon
