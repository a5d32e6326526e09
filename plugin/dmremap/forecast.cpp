// SPDX-License-Identifier: LGPL-2.1-or-later
// The spare-exhaustion forecast of health.hpp (docs/HEALTH.md, "Forecast").
#include "health.hpp"
#include "health_format.hpp"

#include <algorithm>
#include <cmath>

namespace dmremap {
namespace {

constexpr double kDay = 86400.0;
constexpr std::int64_t kFitWindow = 30 * 86400;
constexpr std::int64_t kQuietWindow = 7 * 86400;
constexpr std::int64_t kMinSpan = 86400;
constexpr std::size_t kMinSamples = 3;
// Past a century a date means "not in this disk's life"; capping keeps
// the arithmetic in range for slopes near zero.
constexpr double kMaxDays = 36500.0;

struct Point {
    std::int64_t time;
    double used;
};

// The history's spare use, then the present as the newest point: a
// history appended only on change says nothing about the quiet since.
std::vector<Point> points_of(const std::vector<HistorySample> &history, const TargetStatus &now,
                             std::int64_t now_time)
{
    std::vector<Point> pts;
    for (const auto &s : history)
        if (s.time <= now_time)
            pts.push_back({s.time, static_cast<double>(s.spare_used)});
    if (!pts.empty() && pts.back().time == now_time)
        pts.pop_back();
    pts.push_back({now_time, static_cast<double>(now.spare_used)});
    return pts;
}

// Blocks per day over the last `window` seconds: from the newest point at
// least 90% of the window old (daily samples drift by minutes), over the
// time actually elapsed. nullopt when no point is that old.
std::optional<double> rate(const std::vector<Point> &pts, std::int64_t window)
{
    const Point &last = pts.back();
    const std::int64_t limit = last.time - window * 9 / 10;
    for (auto it = pts.rbegin(); it != pts.rend(); ++it)
        if (it->time <= limit)
            return (last.used - it->used) / (static_cast<double>(last.time - it->time) / kDay);
    return std::nullopt;
}

struct Fit {
    double slope = 0, se = 0; // blocks per day, and its standard error
    std::size_t n = 0;
    std::int64_t span = 0;
};

Fit least_squares(const std::vector<Point> &pts)
{
    Fit f;
    f.n = pts.size();
    f.span = pts.back().time - pts.front().time;
    if (f.n < 2 || f.span <= 0)
        return f;
    const double t0 = static_cast<double>(pts.front().time);
    double mx = 0, my = 0;
    for (const auto &p : pts) {
        mx += (static_cast<double>(p.time) - t0) / kDay;
        my += p.used;
    }
    mx /= static_cast<double>(f.n);
    my /= static_cast<double>(f.n);
    double sxx = 0, sxy = 0;
    for (const auto &p : pts) {
        const double dx = (static_cast<double>(p.time) - t0) / kDay - mx;
        sxx += dx * dx;
        sxy += dx * (p.used - my);
    }
    if (sxx <= 0)
        return f;
    f.slope = sxy / sxx;
    if (f.n > 2) {
        const double b0 = my - f.slope * mx;
        double ssr = 0;
        for (const auto &p : pts) {
            const double x = (static_cast<double>(p.time) - t0) / kDay;
            const double r = p.used - (b0 + f.slope * x);
            ssr += r * r;
        }
        f.se = std::sqrt(ssr / static_cast<double>(f.n - 2) / sxx);
    }
    return f;
}

std::int64_t after_days(std::int64_t now, double days)
{
    return now + static_cast<std::int64_t>(std::llround(std::min(days, kMaxDays) * kDay));
}

} // namespace

Forecast forecast(const std::vector<HistorySample> &history, const TargetStatus &now, std::int64_t now_time)
{
    Forecast f;
    const auto pts = points_of(history, now, now_time);
    f.rate_1d = rate(pts, 86400);
    f.rate_7d = rate(pts, kQuietWindow);
    f.rate_30d = rate(pts, kFitWindow);

    const std::string use = std::to_string(now.spare_used) + " of " + std::to_string(now.spare_total) +
                            " spare blocks used";
    if (now.exhausted || (now.spare_total > 0 && now.spare_used >= now.spare_total)) {
        f.kind = Forecast::Kind::Exhausted;
        f.samples = pts.size();
        f.summary = "no spare blocks left (" + use + ")";
        return f;
    }

    // The last 30 days; a history that is shorter, or too sparse there
    // (samples only on change), is used whole.
    std::vector<Point> fit_pts;
    for (const auto &p : pts)
        if (p.time >= now_time - kFitWindow)
            fit_pts.push_back(p);
    if (fit_pts.size() < kMinSamples || fit_pts.back().time - fit_pts.front().time < kMinSpan)
        fit_pts = pts;
    const Fit fit = least_squares(fit_pts);
    f.samples = fit.n;
    if (fit.n < kMinSamples || fit.span < kMinSpan) {
        f.kind = Forecast::Kind::NotEnoughData;
        f.summary = "not enough history to forecast: " + std::to_string(fit.n) + (fit.n == 1 ? " sample" : " samples") + " over " +
                    std::to_string(fit.span / 3600) + " hours (needs 3 over 24 hours)";
        return f;
    }
    const double days = static_cast<double>(fit.span) / kDay;
    if (fit.slope <= 1e-9) {
        f.kind = Forecast::Kind::NoGrowth;
        f.summary = "spare use did not grow over the last " + format_days(days) + " days (" + use + ")";
        return f;
    }
    // One burst, then quiet for a week: the line through the burst would
    // project a steady loss that is not happening. The rates still show it.
    if (f.rate_7d && *f.rate_7d <= 0) {
        f.kind = Forecast::Kind::NoGrowth;
        f.summary = "no spare blocks used in the last 7 days (" + use + "; " + format_rate(fit.slope) +
                    " blocks/day over the last " + format_days(days) + " days)";
        return f;
    }
    const double remaining = static_cast<double>(now.spare_total - now.spare_used);
    f.kind = Forecast::Kind::Projected;
    f.exhaustion = after_days(now_time, remaining / fit.slope);
    f.earliest = after_days(now_time, remaining / (fit.slope + 2 * fit.se));
    const double low = fit.slope - 2 * fit.se;
    if (low > 1e-9)
        f.latest = after_days(now_time, remaining / low);
    f.summary = "spares run out around " + iso_date(*f.exhaustion) + " (" + iso_date(*f.earliest) + " to " +
                (f.latest ? iso_date(*f.latest) : std::string("an unknown later date")) + ") at " +
                format_rate(fit.slope) + " blocks/day over the last " + format_days(days) + " days";
    return f;
}

} // namespace dmremap
