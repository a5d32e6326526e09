// SPDX-License-Identifier: GPL-2.0-or-later
// The health model on synthetic histories (docs/HEALTH.md): the forecast
// of steady, accelerating, bursty, flat and too short histories, and the
// state and reason codes at each threshold.
#include <health.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

using namespace dmremap;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kNow = 1'800'000'000;

TargetStatus status(std::uint64_t used, std::uint64_t total = 10000)
{
    TargetStatus t;
    t.block_size = 4096;
    t.spare_used = used;
    t.spare_total = total;
    t.remapped = used;
    return t;
}

// Daily samples over `days` days ending a day before kNow, spare use from `f(day)`.
template <typename F> std::vector<HistorySample> daily(int days, F f, std::uint64_t total = 10000)
{
    std::vector<HistorySample> v;
    for (int d = 0; d < days; ++d) {
        HistorySample s;
        s.time = kNow - (days - d) * kDay;
        s.why = "daily";
        s.spare_used = f(d);
        s.spare_total = total;
        v.push_back(s);
    }
    return v;
}

std::vector<std::string> codes(const Health &h)
{
    std::vector<std::string> c;
    for (const auto &r : h.reasons)
        c.push_back(r.code);
    return c;
}

const HealthReason *find(const Health &h, const std::string &code)
{
    for (const auto &r : h.reasons)
        if (r.code == code)
            return &r;
    return nullptr;
}

Health assess_now(const TargetStatus &t, const std::vector<HistorySample> &hist = {},
                  const std::optional<ScanRecord> &scan = std::nullopt,
                  const std::optional<SmartReport> &smart = std::nullopt)
{
    return assess(t, hist, scan, smart, kNow);
}

TEST(Forecast, SteadyProjectsWithinFivePercent)
{
    // 10 blocks a day for 60 days, with a deterministic wobble of +-3.
    auto hist = daily(60, [](int d) { return static_cast<std::uint64_t>(10 * d + (d % 3) * 3); });
    const auto now = status(600);
    const auto f = forecast(hist, now, kNow);
    ASSERT_EQ(f.kind, Forecast::Kind::Projected) << f.summary;
    const double want_days = (10000.0 - 600.0) / 10.0;
    const double got_days = static_cast<double>(*f.exhaustion - kNow) / kDay;
    EXPECT_NEAR(got_days, want_days, want_days * 0.05) << f.summary;
    ASSERT_TRUE(f.earliest);
    ASSERT_TRUE(f.latest);
    EXPECT_LE(*f.earliest, *f.exhaustion);
    EXPECT_GE(*f.latest, *f.exhaustion);
    ASSERT_TRUE(f.rate_1d && f.rate_7d && f.rate_30d);
    EXPECT_NEAR(*f.rate_30d, 10.0, 1.0);
    EXPECT_NEAR(*f.rate_7d, 10.0, 1.5);
    EXPECT_GE(f.samples, 30u);
    EXPECT_THAT(f.summary, HasSubstr("spares run out around"));
    const auto h = assess_now(now, hist);
    EXPECT_EQ(h.state, HealthState::Ok) << ::testing::PrintToString(codes(h));
}

TEST(Forecast, PerfectLineHasANarrowRange)
{
    auto hist = daily(30, [](int d) { return static_cast<std::uint64_t>(100 * d); });
    const auto f = forecast(hist, status(3000), kNow);
    ASSERT_EQ(f.kind, Forecast::Kind::Projected);
    EXPECT_NEAR(static_cast<double>(*f.exhaustion - kNow) / kDay, 70.0, 0.1);
    EXPECT_NEAR(static_cast<double>(*f.latest - *f.earliest) / kDay, 0.0, 0.1);
    // Within 90 days: a warning naming the date.
    const auto h = assess_now(status(3000), hist);
    EXPECT_EQ(h.state, HealthState::Warning);
    ASSERT_TRUE(find(h, "exhaustion-near"));
    EXPECT_EQ(find(h, "exhaustion-near")->severity, HealthState::Warning);
    EXPECT_THAT(find(h, "exhaustion-near")->message, HasSubstr("70 days"));
}

TEST(Forecast, ExhaustionWithinTwoWeeksIsFailing)
{
    auto hist = daily(30, [](int d) { return static_cast<std::uint64_t>(200 * d); });
    const auto h = assess_now(status(6000, 7000), hist);
    ASSERT_EQ(h.forecast.kind, Forecast::Kind::Projected);
    ASSERT_TRUE(find(h, "exhaustion-near"));
    EXPECT_EQ(find(h, "exhaustion-near")->severity, HealthState::Failing);
    EXPECT_EQ(h.state, HealthState::Failing);
}

TEST(Forecast, AcceleratingRateIsAReasonAndBringsTheDateCloser)
{
    // One block a day for 53 days, then 20 a day for the last week.
    auto f_acc = [](int d) { return static_cast<std::uint64_t>(d < 53 ? d : 53 + 20 * (d - 53)); };
    auto hist = daily(60, f_acc);
    const auto now = status(53 + 20 * 7);
    const auto h = assess_now(now, hist);
    ASSERT_TRUE(find(h, "remap-rate-accelerating")) << ::testing::PrintToString(codes(h));
    EXPECT_EQ(h.state, HealthState::Warning);
    ASSERT_TRUE(h.forecast.rate_7d && h.forecast.rate_30d);
    EXPECT_GT(*h.forecast.rate_7d, 2 * *h.forecast.rate_30d);
    // The steady history at the old rate projects much later.
    auto steady = daily(60, [](int d) { return static_cast<std::uint64_t>(d); });
    const auto fs = forecast(steady, status(60), kNow);
    ASSERT_EQ(h.forecast.kind, Forecast::Kind::Projected);
    ASSERT_EQ(fs.kind, Forecast::Kind::Projected);
    EXPECT_LT(*h.forecast.exhaustion, *fs.exhaustion);
    EXPECT_FALSE(find(assess_now(status(60), steady), "remap-rate-accelerating"));
}

TEST(Forecast, SmallCountsDoNotAccelerate)
{
    // Nothing for 25 days, then 3 blocks this week: the rate "tripled",
    // but three blocks are not a trend.
    auto hist = daily(30, [](int d) { return static_cast<std::uint64_t>(d < 25 ? 0 : d - 24); });
    const auto h = assess_now(status(6), hist);
    EXPECT_FALSE(find(h, "remap-rate-accelerating"));
}

TEST(Forecast, BurstThenQuietIsNoGrowth)
{
    // 500 blocks in one day three weeks ago, nothing since.
    auto hist = daily(30, [](int d) { return static_cast<std::uint64_t>(d < 10 ? 0 : 500); });
    const auto h = assess_now(status(500), hist);
    EXPECT_EQ(h.forecast.kind, Forecast::Kind::NoGrowth) << h.forecast.summary;
    EXPECT_THAT(h.forecast.summary, HasSubstr("no spare blocks used in the last 7 days"));
    ASSERT_TRUE(h.forecast.rate_7d && h.forecast.rate_30d);
    EXPECT_EQ(*h.forecast.rate_7d, 0.0);
    EXPECT_GT(*h.forecast.rate_30d, 10.0);
    EXPECT_FALSE(h.forecast.exhaustion);
    EXPECT_EQ(h.state, HealthState::Ok);
}

TEST(Forecast, RecentBurstIsProjectedAndAccelerating)
{
    // Flat for 27 days, then 500 blocks two days ago.
    auto hist = daily(30, [](int d) { return static_cast<std::uint64_t>(d < 28 ? 0 : 500); });
    const auto h = assess_now(status(500), hist);
    EXPECT_EQ(h.forecast.kind, Forecast::Kind::Projected);
    ASSERT_TRUE(h.forecast.earliest);
    EXPECT_LT(*h.forecast.earliest, *h.forecast.exhaustion);
    EXPECT_TRUE(find(h, "remap-rate-accelerating"));
}

TEST(Forecast, FlatIsNoGrowth)
{
    auto hist = daily(30, [](int) { return std::uint64_t{50}; });
    const auto f = forecast(hist, status(50), kNow);
    EXPECT_EQ(f.kind, Forecast::Kind::NoGrowth);
    EXPECT_EQ(f.rate_30d, 0.0);
    EXPECT_THAT(f.summary, HasSubstr("did not grow"));
    EXPECT_FALSE(f.exhaustion);
}

TEST(Forecast, TooLittleDataIsSaidSo)
{
    EXPECT_EQ(forecast({}, status(5), kNow).kind, Forecast::Kind::NotEnoughData);
    // Two samples and the present: three points, but over 10 hours.
    std::vector<HistorySample> v(2);
    v[0].time = kNow - 10 * 3600;
    v[1].time = kNow - 5 * 3600;
    v[1].spare_used = 5;
    const auto f = forecast(v, status(10), kNow);
    EXPECT_EQ(f.kind, Forecast::Kind::NotEnoughData);
    EXPECT_THAT(f.summary, HasSubstr("3 samples over 10 hours"));
    EXPECT_FALSE(f.rate_1d);
    // One sample two days ago and the present: two points.
    std::vector<HistorySample> w(1);
    w[0].time = kNow - 2 * kDay;
    EXPECT_EQ(forecast(w, status(10), kNow).kind, Forecast::Kind::NotEnoughData);
    // Three points over a day and a half: enough.
    w.push_back(w[0]);
    w[1].time = kNow - kDay / 2;
    w[1].spare_used = 5;
    EXPECT_EQ(forecast(w, status(10), kNow).kind, Forecast::Kind::Projected);
}

TEST(Forecast, ExhaustedIsExhausted)
{
    auto t = status(10000);
    const auto h = assess_now(t);
    EXPECT_EQ(h.forecast.kind, Forecast::Kind::Exhausted);
    EXPECT_EQ(h.state, HealthState::Failing);
    EXPECT_EQ(codes(h), std::vector<std::string>{"spare-exhausted"});
    t = status(10);
    t.exhausted = true;
    EXPECT_EQ(forecast({}, t, kNow).kind, Forecast::Kind::Exhausted);
}

TEST(Assess, SpareUseThresholds)
{
    EXPECT_EQ(assess_now(status(7999)).state, HealthState::Ok);
    auto h = assess_now(status(8300));
    EXPECT_EQ(h.state, HealthState::Warning);
    EXPECT_EQ(codes(h), std::vector<std::string>{"spare-use-high"});
    EXPECT_THAT(h.reasons[0].message, HasSubstr("spare use 83% (8300 of 10000 blocks)"));
    h = assess_now(status(9500));
    EXPECT_EQ(h.state, HealthState::Failing);
    EXPECT_EQ(codes(h), std::vector<std::string>{"spare-use-critical"});
    EXPECT_EQ(assess_now(status(0, 0)).state, HealthState::Ok);
}

TEST(Assess, DeviceReasons)
{
    auto t = status(0);
    t.pending = 2;
    t.metadata_ok = false;
    t.degraded = true;
    t.unavailable = 4;
    t.members = {{0, MemberHealth::Ok}, {1, MemberHealth::Missing}, {2, MemberHealth::Failed}};
    const auto h = assess_now(t);
    EXPECT_EQ(h.state, HealthState::Warning);
    EXPECT_EQ(codes(h),
              (std::vector<std::string>{"pending-blocks", "member-failed", "member-missing", "metadata-degraded"}));
    EXPECT_THAT(find(h, "pending-blocks")->message, HasSubstr("2 pending blocks"));
    EXPECT_THAT(find(h, "member-missing")->message, HasSubstr("4 remapped blocks unavailable"));
}

TEST(Assess, GoneMembers)
{
    auto t = status(0);
    t.members = {{0, MemberHealth::Ok}, {1, MemberHealth::Gone}, {2, MemberHealth::Gone}};
    auto h = assess_now(t);
    EXPECT_EQ(h.state, HealthState::Warning);
    EXPECT_EQ(codes(h), std::vector<std::string>{"member-gone"});
    EXPECT_THAT(h.reasons[0].message, HasSubstr("2 spare members left the system: blocks remapped to them fail"));
    EXPECT_THAT(h.reasons[0].message, HasSubstr("stop and assemble the set once the disk is back"));
    // The data disk and a spare: one reason (one code), the worse severity.
    t.members = {{0, MemberHealth::Gone}, {1, MemberHealth::Gone}, {2, MemberHealth::Ok}};
    h = assess_now(t);
    EXPECT_EQ(h.state, HealthState::Failing);
    EXPECT_EQ(codes(h), std::vector<std::string>{"member-gone"});
    EXPECT_THAT(h.reasons[0].message,
                HasSubstr("the data disk (member 0) left the system: every read and write fails; 1 spare member left"));
    t.members = {{0, MemberHealth::Gone}};
    EXPECT_THAT(assess_now(t).reasons[0].message, Not(HasSubstr("spare")));
}

TEST(Assess, ScanErrors)
{
    ScanRecord scan;
    scan.end = kNow - 3600;
    scan.complete = true;
    scan.bad_count = 3;
    std::vector<HistorySample> hist(1);
    hist[0].time = kNow - 30 * kDay;
    hist[0].scan_bad = 0;
    auto h = assess_now(status(0), hist, scan);
    EXPECT_EQ(codes(h), std::vector<std::string>{"scan-errors-first"});
    EXPECT_THAT(h.reasons[0].message, HasSubstr("found 3 unreadable blocks"));
    // The same scan already sampled, after an earlier scan with errors.
    hist[0].scan_bad = 1;
    hist.push_back({});
    hist[1].time = kNow - 3000;
    hist[1].why = "scan";
    hist[1].scan_bad = 3;
    h = assess_now(status(0), hist, scan);
    EXPECT_EQ(codes(h), std::vector<std::string>{"scan-errors"});
    // A clean scan since: nothing.
    scan.end = kNow - 60;
    scan.bad_count = 0;
    EXPECT_TRUE(assess_now(status(0), hist, scan).reasons.empty());
}

SmartReport smart_fixture(const std::string &name)
{
    std::ifstream in(std::string(DMREMAP_TEST_DATA) + "/smart/" + name);
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_smartctl_json(ss.str());
}

TEST(Assess, SmartReasons)
{
    auto h = assess_now(status(0), {}, std::nullopt, smart_fixture("ata-failing-pending.json"));
    EXPECT_EQ(h.state, HealthState::Failing);
    EXPECT_EQ(codes(h), (std::vector<std::string>{"smart-failed", "smart-reallocated", "smart-current-pending"}));
    EXPECT_THAT(find(h, "smart-reallocated")->message, HasSubstr("raw value 1975"));
    h = assess_now(status(0), {}, std::nullopt, smart_fixture("ata-reallocated-188-packed.json"));
    EXPECT_EQ(h.state, HealthState::Warning);
    EXPECT_EQ(codes(h), (std::vector<std::string>{"smart-reallocated", "smart-command-timeout"}));
    EXPECT_TRUE(assess_now(status(0), {}, std::nullopt, smart_fixture("ata-healthy.json")).reasons.empty());
    EXPECT_TRUE(assess_now(status(0), {}, std::nullopt, smart_fixture("nvme-healthy.json")).reasons.empty());
    h = assess_now(status(0), {}, std::nullopt, smart_fixture("nvme-media-errors.json"));
    EXPECT_EQ(codes(h), std::vector<std::string>{"nvme-media-errors"});
    EXPECT_THAT(h.reasons[0].message, HasSubstr("7 NVMe media"));
    h = assess_now(status(0), {}, std::nullopt, smart_fixture("nvme-critical-warning.json"));
    EXPECT_EQ(codes(h), std::vector<std::string>{"smart-failed"});

    SmartReport n;
    n.available = true;
    n.nvme_available_spare = 10;
    n.nvme_available_spare_threshold = 10;
    n.nvme_percentage_used = 89;
    h = assess_now(status(0), {}, std::nullopt, n);
    EXPECT_EQ(codes(h), std::vector<std::string>{"nvme-spare-low"});
    EXPECT_EQ(h.state, HealthState::Failing);
    n.nvme_available_spare = 11;
    n.nvme_percentage_used = 90;
    h = assess_now(status(0), {}, std::nullopt, n);
    EXPECT_EQ(codes(h), std::vector<std::string>{"nvme-wear"});
    EXPECT_EQ(h.state, HealthState::Warning);
    n.nvme_percentage_used = 100;
    EXPECT_EQ(assess_now(status(0), {}, std::nullopt, n).state, HealthState::Failing);
    // Unavailable SMART says nothing.
    SmartReport none;
    none.error = "smartctl is not installed";
    EXPECT_TRUE(assess_now(status(0), {}, std::nullopt, none).reasons.empty());
}

TEST(Json, StableKeys)
{
    auto hist = daily(30, [](int d) { return static_cast<std::uint64_t>(8000 + 10 * d); });
    const auto h = assess_now(status(8300), hist);
    const auto j = to_json(h);
    EXPECT_EQ(j["state"], "warning");
    ASSERT_TRUE(j["reasons"].is_array());
    EXPECT_EQ(j["reasons"][0]["code"], "spare-use-high");
    EXPECT_EQ(j["reasons"][0]["severity"], "warning");
    EXPECT_TRUE(j["reasons"][0]["message"].is_string());
    const auto &f = j["forecast"];
    for (const char *k : {"kind", "rate_per_day_1d", "rate_per_day_7d", "rate_per_day_30d", "exhaustion",
                          "exhaustion_date", "earliest", "earliest_date", "latest", "latest_date", "samples",
                          "summary"})
        EXPECT_TRUE(f.contains(k)) << k;
    EXPECT_EQ(f["kind"], "projected");
    EXPECT_EQ(f["exhaustion"].get<std::int64_t>(), *h.forecast.exhaustion);
    EXPECT_THAT(f["exhaustion_date"].get<std::string>(), ::testing::MatchesRegex("20[0-9-]+T[0-9:]+Z"));
    const auto none = to_json(forecast({}, status(0), kNow));
    EXPECT_EQ(none["kind"], "not-enough-data");
    EXPECT_TRUE(none["exhaustion"].is_null());
    EXPECT_TRUE(none["rate_per_day_7d"].is_null());
    EXPECT_EQ(to_json(Health{})["reasons"], nlohmann::json::array());
    EXPECT_EQ(to_json(Health{})["state"], "ok");
}

} // namespace
