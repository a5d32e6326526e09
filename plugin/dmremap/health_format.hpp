// SPDX-License-Identifier: LGPL-2.1-or-later
// Numbers and dates as the health model's sentences and JSON show them
// (internal to health, forecast and metrics).
#pragma once

#include <cstdint>
#include <string>

namespace dmremap {

std::string iso_date(std::int64_t unix_seconds);     // 2027-03-01 (UTC)
std::string iso_time(std::int64_t unix_seconds);     // 2027-03-01T12:00:00Z
std::string format_rate(double per_day);             // 3 significant digits: 0.143, 12.5, 250
std::string format_days(double days);                // whole days, at least 1
std::string format_double(double v);                 // shortest text that reads back the same

} // namespace dmremap
