// SPDX-License-Identifier: GPL-2.0-or-later
// The health history file: lines appended and read back, a torn line
// skipped, the size bound kept by compaction, error counters made
// cumulative across table loads.
#include <history.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace dmremap;
namespace fs = std::filesystem;

namespace {

class HistoryTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        char tmpl[] = "/tmp/dmremap-history-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path file() const { return dir_ / "history.jsonl"; }
    fs::path dir_;
};

HistorySample at(std::int64_t t, std::uint64_t used, const std::string &why = "event")
{
    HistorySample s;
    s.time = t;
    s.why = why;
    s.spare_used = used;
    s.spare_total = 1000;
    s.remapped = used;
    return s;
}

TEST_F(HistoryTest, AppendAndLoad)
{
    History h(file());
    EXPECT_TRUE(h.load().empty());
    EXPECT_FALSE(h.last());
    auto a = at(100, 1);
    auto b = at(200, 2, "scan");
    b.scan_bad = 3;
    b.scan_complete = true;
    b.smart = {{"ata_5", 7}, {"smart_passed", 1}};
    h.append(a);
    h.append(b);
    const auto all = h.load();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0], a);
    EXPECT_EQ(all[1], b);
    ASSERT_TRUE(h.last());
    EXPECT_EQ(*h.last(), b);
    EXPECT_EQ(fs::status(file()).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(HistoryTest, TornAndMalformedLinesAreSkipped)
{
    History h(file());
    h.append(at(100, 1));
    {
        std::ofstream out(file(), std::ios::app);
        out << "not json\n{\"time\": \"x\"}\n[1,2]\n{\"time\": 150, \"spare_us"; // torn, no newline
    }
    EXPECT_EQ(h.load().size(), 1u);
    ASSERT_TRUE(h.last());
    EXPECT_EQ(h.last()->time, 100);
    // The next append starts a line of its own instead of completing the torn one.
    h.append(at(200, 2));
    const auto all = h.load();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[1].time, 200);
    EXPECT_EQ(h.last()->time, 200);
}

TEST_F(HistoryTest, CompactionKeepsTheBound)
{
    const std::uintmax_t max = 64 * 1024;
    History h(file(), max);
    const std::int64_t t0 = 1'700'000'000, step = 6 * 3600;
    // Two years of samples every 6 hours, each with a change: more than
    // even one a day fits, so the oldest days go too.
    const int n = 2 * 365 * 4;
    for (int i = 0; i < n; ++i) {
        h.append(at(t0 + i * step, static_cast<std::uint64_t>(i)));
        ASSERT_LE(fs::file_size(file()), max) << "after sample " << i;
    }
    const auto all = h.load();
    ASSERT_FALSE(all.empty());
    EXPECT_EQ(all.back().time, t0 + (n - 1) * step);
    for (std::size_t i = 1; i < all.size(); ++i)
        ASSERT_LT(all[i - 1].time, all[i].time);
    // The newest samples are whole, the older ones a day apart.
    EXPECT_EQ(all[all.size() - 1].time - all[all.size() - 2].time, step);
    EXPECT_EQ(all[1].time - all[0].time, 86400);
    EXPECT_GT(fs::file_size(file()), max / 2);
}

TEST_F(HistoryTest, CompactThinsOlderToOnePerDay)
{
    std::vector<HistorySample> v;
    const std::int64_t day = 86400, t0 = 1'700'006'400; // midnight UTC
    for (int d = 0; d < 5; ++d)
        for (int h = 0; h < 4; ++h)
            v.push_back(at(t0 + d * day + h * 3600, static_cast<std::uint64_t>(d * 4 + h)));
    v[1].scan_bad = 2; // a scan with errors on day 0 survives
    const auto c = History::compact(v, 4);
    // Days 0-3 thinned to their last sample (+ the scan), day 4 whole.
    ASSERT_EQ(c.size(), 1u + 4u + 4u);
    EXPECT_EQ(c[0].time, v[1].time);
    EXPECT_EQ(c[1].time, v[3].time);
    EXPECT_EQ(c[4].time, v[15].time);
    EXPECT_EQ(c[5].time, v[16].time);
    EXPECT_EQ(History::compact(v, 100).size(), v.size());
}

TEST_F(HistoryTest, CountersCumulativeAcrossTableReload)
{
    TargetStatus st;
    st.read_errors = 5;
    st.write_errors = 2;
    st.remap_events = 3;
    auto s1 = History::sample(st, 100, "start", std::nullopt);
    EXPECT_EQ(s1.read_errors, 5u);
    st.read_errors = 7;
    auto s2 = History::sample(st, 200, "event", s1);
    EXPECT_EQ(s2.read_errors, 7u);
    EXPECT_EQ(s2.raw_read_errors, 7u);
    // The table was loaded again: counters restart at zero.
    st.read_errors = 1;
    st.write_errors = 0;
    st.remap_events = 4;
    auto s3 = History::sample(st, 300, "start", s2);
    EXPECT_EQ(s3.read_errors, 8u);
    EXPECT_EQ(s3.write_errors, 2u);
    EXPECT_EQ(s3.remap_events, 4u);
    EXPECT_EQ(s3.raw_read_errors, 1u);
    st.read_errors = 3;
    auto s4 = History::sample(st, 400, "event", s3);
    EXPECT_EQ(s4.read_errors, 10u);
    // Through the file too.
    History h(file());
    for (const auto &s : {s1, s2, s3, s4})
        h.append(s);
    EXPECT_EQ(h.load().back().read_errors, 10u);
}

} // namespace

TEST(HistorySelect, SinceAndCountEvenlyWithTheNewestKept)
{
    std::vector<HistorySample> all;
    for (std::int64_t t = 0; t < 100; t++) {
        HistorySample s;
        s.time = t * 10;
        s.spare_used = static_cast<std::uint64_t>(t);
        all.push_back(s);
    }
    const auto times = [](const std::vector<HistorySample> &v) {
        std::vector<std::int64_t> out;
        for (const auto &s : v)
            out.push_back(s.time);
        return out;
    };
    // Fewer samples than asked for: all those from `since` on.
    EXPECT_EQ(times(History::select(all, 955, 10)), (std::vector<std::int64_t>{960, 970, 980, 990}));
    EXPECT_EQ(History::select(all, 0, 1000).size(), 100u);
    // Thinned: the oldest after `since`, the newest, and evenly between.
    EXPECT_EQ(times(History::select(all, 500, 3)), (std::vector<std::int64_t>{500, 740, 990}));
    EXPECT_EQ(times(History::select(all, 0, 1)), (std::vector<std::int64_t>{990}));
    EXPECT_TRUE(History::select(all, 0, 0).empty());
    EXPECT_TRUE(History::select(all, 991, 5).empty());
    EXPECT_TRUE(History::select({}, 0, 5).empty());
}
