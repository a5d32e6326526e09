// SPDX-License-Identifier: LGPL-2.1-or-later
// The health model (docs/HEALTH.md): a state, the reasons for it as
// machine-readable codes with a sentence each, and the spare-exhaustion
// forecast. Pure functions of their inputs, so the CLI and dm-remapd give
// the same answer for the same history.
#pragma once

#include "history.hpp"
#include "scan_record.hpp"
#include "smart.hpp"
#include "target_status.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dmremap {

enum class HealthState : std::uint8_t { Ok, Warning, Failing };
const char *health_state_name(HealthState s) noexcept; // "ok", "warning", "failing"

struct HealthReason {
    std::string code;          // e.g. "spare-use-high", see docs/HEALTH.md
    HealthState severity = HealthState::Warning;
    std::string message;       // one sentence with the numbers behind it
    bool operator==(const HealthReason &) const = default;
};

struct Forecast {
    enum class Kind : std::uint8_t {
        NotEnoughData, // too few samples or too short a span
        NoGrowth,      // spare use did not grow in the window
        Projected,     // exhaustion projected at `exhaustion`
        Exhausted,     // no spare left
    };
    Kind kind = Kind::NotEnoughData;
    // Spare blocks used per day over the last 1, 7 and 30 days (nullopt
    // when the history does not cover the window).
    std::optional<double> rate_1d, rate_7d, rate_30d;
    // Unix seconds; set for Projected: the estimate and a range from the
    // rate's uncertainty (earliest from the high rate, latest from the low;
    // latest unset when the low rate is zero).
    std::optional<std::int64_t> exhaustion, earliest, latest;
    std::size_t samples = 0;   // samples the fit used
    std::string summary;       // one sentence, e.g. "spares run out around 2027-03-01 (2027-01-20 to 2027-05-10)"
};
const char *forecast_kind_name(Forecast::Kind k) noexcept; // "not-enough-data", "no-growth", "projected", "exhausted"

struct Health {
    HealthState state = HealthState::Ok; // the worst severity among reasons
    std::vector<HealthReason> reasons;   // empty when ok
    Forecast forecast;
};

Forecast forecast(const std::vector<HistorySample> &history, const TargetStatus &now, std::int64_t now_time);

// `scans`: completed or partial scan results known for the set, oldest
// first (the history's scan samples are used too); `smart`: the data
// disk's report if any.
Health assess(const TargetStatus &now, const std::vector<HistorySample> &history,
              const std::optional<ScanRecord> &last_scan, const std::optional<SmartReport> &smart,
              std::int64_t now_time);

nlohmann::json to_json(const Forecast &f);
nlohmann::json to_json(const Health &h);

} // namespace dmremap
