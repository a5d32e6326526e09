// SPDX-License-Identifier: LGPL-2.1-or-later
// The assessment of health.hpp: every reason code, its threshold and why
// it is set where it is, is in docs/HEALTH.md; keep the two in step.
#include "health.hpp"
#include "health_format.hpp"

#include <algorithm>

namespace dmremap {
namespace {

using nlohmann::json;

constexpr std::uint64_t kSpareHighPercent = 80;
constexpr std::uint64_t kSpareCriticalPercent = 95;
constexpr std::int64_t kNearWarnDays = 90;
constexpr std::int64_t kNearFailDays = 14;
constexpr double kAccelerationFactor = 2.0;
constexpr double kAccelerationMinBlocks = 8.0;
constexpr int kNvmeWearWarn = 90;
constexpr int kNvmeWearFail = 100;

class Reasons {
public:
    void add(std::string code, HealthState severity, std::string message)
    {
        list_.push_back({std::move(code), severity, std::move(message)});
    }
    std::vector<HealthReason> take() { return std::move(list_); }

private:
    std::vector<HealthReason> list_;
};

std::string u(std::uint64_t v) { return std::to_string(v); }

void spare_reasons(const TargetStatus &now, Reasons &r)
{
    const std::string use = u(now.spare_used) + " of " + u(now.spare_total) + " blocks";
    if (now.exhausted || (now.spare_total > 0 && now.spare_used >= now.spare_total)) {
        r.add("spare-exhausted", HealthState::Failing,
              "no spare blocks left (" + use + " used): a new bad block can no longer be remapped");
        return;
    }
    if (now.spare_total == 0)
        return;
    const std::uint64_t pct = now.spare_used * 100 / now.spare_total;
    const std::string msg = "spare use " + u(pct) + "% (" + use + ")";
    if (now.spare_used * 100 >= kSpareCriticalPercent * now.spare_total)
        r.add("spare-use-critical", HealthState::Failing, msg + ", at or above " + u(kSpareCriticalPercent) + "%");
    else if (now.spare_used * 100 >= kSpareHighPercent * now.spare_total)
        r.add("spare-use-high", HealthState::Warning, msg + ", at or above " + u(kSpareHighPercent) + "%");
}

void forecast_reasons(const Forecast &f, std::int64_t now_time, Reasons &r)
{
    if (f.kind == Forecast::Kind::Projected && f.exhaustion) {
        const std::int64_t days = (*f.exhaustion - now_time) / 86400;
        const std::string msg = "spares projected to run out in " + std::to_string(days) + " days, around " +
                                iso_date(*f.exhaustion);
        if (days <= kNearFailDays)
            r.add("exhaustion-near", HealthState::Failing, msg + " (within " + std::to_string(kNearFailDays) + ")");
        else if (days <= kNearWarnDays)
            r.add("exhaustion-near", HealthState::Warning, msg + " (within " + std::to_string(kNearWarnDays) + ")");
    }
    // Twice the monthly rate, and enough blocks that the doubling is not
    // one or two remaps landing in the same week.
    if (f.rate_7d && f.rate_30d) {
        const double week_blocks = *f.rate_7d * 7.0;
        if (week_blocks >= kAccelerationMinBlocks && *f.rate_7d > kAccelerationFactor * *f.rate_30d)
            r.add("remap-rate-accelerating", HealthState::Warning,
                  "spare use over the last 7 days is " + format_rate(*f.rate_7d) + " blocks/day (" +
                      format_rate(week_blocks) + " blocks), more than twice the 30-day rate of " +
                      format_rate(*f.rate_30d) + " blocks/day");
    }
}

// The latest scan result and whether any scan before it found errors:
// scans are the history's samples with scan_bad, and last-scan.json when
// it is newer than all of them (written but not yet sampled).
void scan_reasons(const std::vector<HistorySample> &history, const std::optional<ScanRecord> &last_scan,
                  Reasons &r)
{
    std::vector<std::pair<std::int64_t, std::uint64_t>> scans; // time, bad blocks
    for (const auto &s : history)
        if (s.scan_bad)
            scans.emplace_back(s.time, *s.scan_bad);
    if (last_scan && (scans.empty() || last_scan->end > scans.back().first))
        scans.emplace_back(last_scan->end, last_scan->bad_count);
    if (scans.empty() || scans.back().second == 0)
        return;
    const auto [when, bad] = scans.back();
    const bool earlier = std::any_of(scans.begin(), scans.end() - 1, [](const auto &s) { return s.second > 0; });
    const std::string msg = "the scan of " + iso_date(when) + " found " + u(bad) + " unreadable block" +
                            (bad == 1 ? "" : "s");
    if (earlier)
        r.add("scan-errors", HealthState::Warning, msg);
    else
        r.add("scan-errors-first", HealthState::Warning,
              msg + ", the first scan errors this device has recorded");
}

void device_reasons(const TargetStatus &now, Reasons &r)
{
    if (now.pending > 0)
        r.add("pending-blocks", HealthState::Warning,
              u(now.pending) + " pending block" + (now.pending == 1 ? "" : "s") +
                  ": unreadable and not yet remapped (the next write to each remaps it)");
    if (const auto failed = now.count(MemberHealth::Failed))
        r.add("member-failed", HealthState::Warning,
              u(failed) + " spare member" + (failed == 1 ? "" : "s") + " failed a write and left the set");
    // Gone (its disk left the system): the set still counts it in and
    // fails every I/O to it; a disk plugged back in is a new device the
    // table does not hold, so the way back is a restart of the set.
    if (const auto gone = now.count(MemberHealth::Gone)) {
        const bool data = std::any_of(now.members.begin(), now.members.end(), [](const MemberState &m) {
            return m.health == MemberHealth::Gone && m.index == 0;
        });
        const auto spares = gone - data;
        std::string msg = data ? "the data disk (member 0) left the system: every read and write fails" : "";
        if (spares)
            msg += std::string(msg.empty() ? "" : "; ") + u(spares) + " spare member" + (spares == 1 ? "" : "s") +
                   " left the system: blocks remapped to " + (spares == 1 ? "it" : "them") + " fail";
        r.add("member-gone", data ? HealthState::Failing : HealthState::Warning,
              msg + " (stop and assemble the set once the disk is back" +
                  (spares ? std::string(", or remove a spare with 'spare remove NAME index=N'") : "") + ")");
    }
    const auto missing = now.count(MemberHealth::Missing);
    if (now.degraded || missing)
        r.add("member-missing", HealthState::Warning,
              "degraded: " + u(missing) + " member" + (missing == 1 ? "" : "s") + " missing, " +
                  u(now.unavailable) + " remapped block" + (now.unavailable == 1 ? "" : "s") + " unavailable");
    if (!now.metadata_ok)
        r.add("metadata-degraded", HealthState::Warning,
              "a metadata write failed on a member: fewer copies of the remap table are current");
}

void smart_reasons(const SmartReport &s, Reasons &r)
{
    if (!s.available)
        return;
    const std::string disk = s.device.empty() ? std::string("the data disk") : s.device;
    if (s.passed && !*s.passed)
        r.add("smart-failed", HealthState::Failing, disk + ": SMART overall-health self-assessment failed");
    struct Ata {
        int id;
        const char *code, *name;
    };
    static constexpr Ata kAta[] = {
        {5, "smart-reallocated", "Reallocated_Sector_Ct"},
        {187, "smart-reported-uncorrect", "Reported_Uncorrect"},
        {188, "smart-command-timeout", "Command_Timeout"},
        {197, "smart-current-pending", "Current_Pending_Sector"},
        {198, "smart-offline-uncorrectable", "Offline_Uncorrectable"},
    };
    for (const auto &a : kAta) {
        const auto it = s.ata_raw.find(a.id);
        if (it != s.ata_raw.end() && it->second > 0)
            r.add(a.code, HealthState::Warning,
                  disk + ": ATA attribute " + std::to_string(a.id) + " " + a.name + " raw value " + u(it->second));
    }
    if (s.nvme_media_errors && *s.nvme_media_errors > 0)
        r.add("nvme-media-errors", HealthState::Warning,
              disk + ": " + u(*s.nvme_media_errors) + " NVMe media and data integrity errors");
    if (s.nvme_available_spare && s.nvme_available_spare_threshold &&
        *s.nvme_available_spare <= *s.nvme_available_spare_threshold)
        r.add("nvme-spare-low", HealthState::Failing,
              disk + ": NVMe available spare " + std::to_string(*s.nvme_available_spare) +
                  "% at or below its threshold of " + std::to_string(*s.nvme_available_spare_threshold) + "%");
    if (s.nvme_percentage_used && *s.nvme_percentage_used >= kNvmeWearWarn) {
        const bool over = *s.nvme_percentage_used >= kNvmeWearFail;
        r.add("nvme-wear", over ? HealthState::Failing : HealthState::Warning,
              disk + ": NVMe percentage used " + std::to_string(*s.nvme_percentage_used) + "% (" +
                  (over ? "past" : "near") + " the rated endurance)");
    }
}

json time_or_null(const std::optional<std::int64_t> &t)
{
    return t ? json(*t) : json(nullptr);
}

json date_or_null(const std::optional<std::int64_t> &t)
{
    return t ? json(iso_time(*t)) : json(nullptr);
}

json rate_or_null(const std::optional<double> &r)
{
    return r ? json(*r) : json(nullptr);
}

} // namespace

const char *health_state_name(HealthState s) noexcept
{
    switch (s) {
    case HealthState::Ok:
        return "ok";
    case HealthState::Warning:
        return "warning";
    case HealthState::Failing:
        return "failing";
    }
    return "unknown";
}

const char *forecast_kind_name(Forecast::Kind k) noexcept
{
    switch (k) {
    case Forecast::Kind::NotEnoughData:
        return "not-enough-data";
    case Forecast::Kind::NoGrowth:
        return "no-growth";
    case Forecast::Kind::Projected:
        return "projected";
    case Forecast::Kind::Exhausted:
        return "exhausted";
    }
    return "unknown";
}

Health assess(const TargetStatus &now, const std::vector<HistorySample> &history,
              const std::optional<ScanRecord> &last_scan, const std::optional<SmartReport> &smart,
              std::int64_t now_time)
{
    Health h;
    h.forecast = forecast(history, now, now_time);
    Reasons r;
    spare_reasons(now, r);
    forecast_reasons(h.forecast, now_time, r);
    scan_reasons(history, last_scan, r);
    device_reasons(now, r);
    if (smart)
        smart_reasons(*smart, r);
    h.reasons = r.take();
    for (const auto &reason : h.reasons)
        h.state = std::max(h.state, reason.severity);
    return h;
}

json to_json(const Forecast &f)
{
    return {{"kind", forecast_kind_name(f.kind)},
            {"rate_per_day_1d", rate_or_null(f.rate_1d)},
            {"rate_per_day_7d", rate_or_null(f.rate_7d)},
            {"rate_per_day_30d", rate_or_null(f.rate_30d)},
            {"exhaustion", time_or_null(f.exhaustion)},
            {"exhaustion_date", date_or_null(f.exhaustion)},
            {"earliest", time_or_null(f.earliest)},
            {"earliest_date", date_or_null(f.earliest)},
            {"latest", time_or_null(f.latest)},
            {"latest_date", date_or_null(f.latest)},
            {"samples", f.samples},
            {"summary", f.summary}};
}

json to_json(const Health &h)
{
    json reasons = json::array();
    for (const auto &r : h.reasons)
        reasons.push_back({{"code", r.code}, {"severity", health_state_name(r.severity)}, {"message", r.message}});
    return {{"state", health_state_name(h.state)}, {"reasons", reasons}, {"forecast", to_json(h.forecast)}};
}

} // namespace dmremap
