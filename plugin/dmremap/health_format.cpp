// SPDX-License-Identifier: LGPL-2.1-or-later
#include "health_format.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace dmremap {

namespace {

std::string strftime_utc(std::int64_t t, const char *fmt)
{
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    if (!::gmtime_r(&tt, &tm))
        return "?";
    char buf[64];
    const std::size_t n = std::strftime(buf, sizeof buf, fmt, &tm);
    return std::string(buf, n);
}

} // namespace

std::string iso_date(std::int64_t t) { return strftime_utc(t, "%Y-%m-%d"); }

std::string iso_time(std::int64_t t) { return strftime_utc(t, "%Y-%m-%dT%H:%M:%SZ"); }

std::string format_rate(double v)
{
    char buf[32];
    // %g turns 1234 into 1.23e+03; whole numbers read better past 100.
    std::snprintf(buf, sizeof buf, std::fabs(v) >= 100 ? "%.0f" : "%.3g", v);
    return buf;
}

std::string format_days(double days) { return std::to_string(std::max<long long>(1, std::llround(days))); }

std::string format_double(double v)
{
    if (std::isnan(v))
        return "NaN";
    if (std::isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

} // namespace dmremap
