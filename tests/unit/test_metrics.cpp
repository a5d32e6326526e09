// SPDX-License-Identifier: GPL-2.0-or-later
// The Prometheus textfile: every family once with HELP and TYPE before
// its samples, counters ending in _total, label values escaped, the
// kernel's values as they are.
#include <health_monitor.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <sys/stat.h>

using namespace dmremap;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;

DeviceHealth device(const std::string &name)
{
    DeviceHealth d;
    d.name = name;
    d.set_uuid = "0b3d8f4e-8f43-4a43-9a8e-6c3f7f1a2b3c";
    auto &t = d.status.target;
    t.block_size = 4096;
    t.remapped = 4;
    t.pending = 1;
    t.spare_used = 8300;
    t.spare_total = 10000;
    t.read_errors = 3;
    t.write_errors = 2;
    t.remap_events = 4;
    t.healed = 1;
    t.unavailable = 0;
    d.health = assess(t, {}, std::nullopt, std::nullopt, kNow);
    return d;
}

std::vector<std::string> lines(const std::string &text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        out.push_back(l);
    return out;
}

// The format rules promtool checks, applied here: HELP then TYPE then the
// family's samples, each family once and contiguous, counters _total.
void check_format(const std::string &text)
{
    ASSERT_FALSE(text.empty());
    ASSERT_EQ(text.back(), '\n');
    std::set<std::string> done;
    std::string current, type;
    bool help = false;
    for (const auto &l : lines(text)) {
        if (l.rfind("# HELP ", 0) == 0) {
            const auto name = l.substr(7, l.find(' ', 7) - 7);
            ASSERT_FALSE(done.contains(name)) << "family twice: " << name;
            if (!current.empty())
                done.insert(current);
            current = name;
            help = true;
            type.clear();
            continue;
        }
        if (l.rfind("# TYPE ", 0) == 0) {
            ASSERT_TRUE(help) << l;
            ASSERT_EQ(l.substr(7, current.size()), current) << l;
            type = l.substr(8 + current.size());
            ASSERT_TRUE(type == "gauge" || type == "counter") << l;
            if (type == "counter")
                EXPECT_TRUE(current.ends_with("_total")) << current;
            else
                EXPECT_FALSE(current.ends_with("_total")) << current;
            continue;
        }
        ASSERT_FALSE(type.empty()) << "sample before TYPE: " << l;
        const auto brace = l.find('{');
        ASSERT_NE(brace, std::string::npos) << l;
        ASSERT_EQ(l.substr(0, brace), current) << "sample outside its family: " << l;
        ASSERT_NE(l.rfind("} "), std::string::npos) << l;
    }
}

std::map<std::string, std::string> samples(const std::string &text)
{
    std::map<std::string, std::string> m;
    for (const auto &l : lines(text))
        if (!l.starts_with("#")) {
            const auto sp = l.rfind(' ');
            m[l.substr(0, sp)] = l.substr(sp + 1);
        }
    return m;
}

TEST(Metrics, FamiliesAndValues)
{
    auto a = device("data0");
    auto b = device("data1");
    b.status.target.spare_used = 10;
    b.status.target.pending = 0;
    b.health = assess(b.status.target, {}, std::nullopt, std::nullopt, kNow);
    ScanRecord scan;
    scan.end = kNow - 100;
    scan.complete = true;
    scan.blocks = scan.next_block = 1000;
    scan.bad_count = 2;
    a.last_scan = scan;
    ScanRecord cp = scan;
    cp.complete = false;
    cp.next_block = 250;
    b.checkpoint = cp;
    const auto text = render_metrics({a, b}, kNow);
    check_format(text);
    const auto m = samples(text);
    const std::string la = "{device=\"data0\",set_uuid=\"0b3d8f4e-8f43-4a43-9a8e-6c3f7f1a2b3c\"";
    const std::string lb = "{device=\"data1\",set_uuid=\"0b3d8f4e-8f43-4a43-9a8e-6c3f7f1a2b3c\"";
    EXPECT_EQ(m.at("dm_remap_remapped_blocks" + la + "}"), "4");
    EXPECT_EQ(m.at("dm_remap_pending_blocks" + la + "}"), "1");
    EXPECT_EQ(m.at("dm_remap_unavailable_blocks" + la + "}"), "0");
    EXPECT_EQ(m.at("dm_remap_spare_used_blocks" + la + "}"), "8300");
    EXPECT_EQ(m.at("dm_remap_spare_total_blocks" + la + "}"), "10000");
    EXPECT_EQ(m.at("dm_remap_block_size_bytes" + la + "}"), "4096");
    EXPECT_EQ(m.at("dm_remap_read_errors_total" + la + "}"), "3");
    EXPECT_EQ(m.at("dm_remap_write_errors_total" + la + "}"), "2");
    EXPECT_EQ(m.at("dm_remap_remap_events_total" + la + "}"), "4");
    EXPECT_EQ(m.at("dm_remap_healed_blocks_total" + la + "}"), "1");
    EXPECT_EQ(m.at("dm_remap_exhausted" + la + "}"), "0");
    EXPECT_EQ(m.at("dm_remap_health_state" + la + ",state=\"warning\"}"), "1");
    EXPECT_EQ(m.at("dm_remap_health_state" + la + ",state=\"ok\"}"), "0");
    EXPECT_EQ(m.at("dm_remap_health_state" + la + ",state=\"failing\"}"), "0");
    EXPECT_EQ(m.at("dm_remap_health_state" + lb + ",state=\"ok\"}"), "1");
    EXPECT_EQ(m.at("dm_remap_health_reason" + la + ",code=\"spare-use-high\"}"), "1");
    EXPECT_EQ(m.at("dm_remap_health_reason" + la + ",code=\"pending-blocks\"}"), "1");
    EXPECT_FALSE(m.contains("dm_remap_health_reason" + lb + ",code=\"spare-use-high\"}"));
    EXPECT_EQ(m.at("dm_remap_last_scan_end_timestamp_seconds" + la + "}"), std::to_string(kNow - 100));
    EXPECT_EQ(m.at("dm_remap_last_scan_bad_blocks" + la + "}"), "2");
    EXPECT_EQ(m.at("dm_remap_scan_position_ratio" + la + "}"), "1");
    EXPECT_EQ(m.at("dm_remap_scan_position_ratio" + lb + "}"), "0.25");
    EXPECT_FALSE(m.contains("dm_remap_last_scan_end_timestamp_seconds" + lb + "}"));
    EXPECT_EQ(m.at("dm_remap_last_update_timestamp_seconds" + lb + "}"), std::to_string(kNow));
    // Not projected: no exhaustion family at all.
    EXPECT_THAT(text, Not(HasSubstr("dm_remap_spare_exhaustion_timestamp_seconds")));
    // Every family has its HELP and TYPE.
    for (const char *fam : {"dm_remap_remapped_blocks", "dm_remap_health_state", "dm_remap_read_errors_total"}) {
        EXPECT_THAT(text, HasSubstr(std::string("# HELP ") + fam + " "));
        EXPECT_THAT(text, HasSubstr(std::string("# TYPE ") + fam + " "));
    }
    EXPECT_THAT(text, HasSubstr("# TYPE dm_remap_read_errors_total counter\n"));
    EXPECT_THAT(text, HasSubstr("# TYPE dm_remap_remapped_blocks gauge\n"));
}

TEST(Metrics, ProjectedExhaustion)
{
    auto d = device("data0");
    d.health.forecast.kind = Forecast::Kind::Projected;
    d.health.forecast.exhaustion = kNow + 86400;
    const auto text = render_metrics({d}, kNow);
    check_format(text);
    EXPECT_THAT(text, HasSubstr("# TYPE dm_remap_spare_exhaustion_timestamp_seconds gauge\n"));
    EXPECT_EQ(samples(text).at("dm_remap_spare_exhaustion_timestamp_seconds{device=\"data0\",set_uuid=\"0b3d8f4e-"
                               "8f43-4a43-9a8e-6c3f7f1a2b3c\"}"),
              std::to_string(kNow + 86400));
}

TEST(Metrics, LabelValuesAreEscaped)
{
    auto d = device("we\"ird\\na\nme");
    d.set_uuid = "";
    const auto text = render_metrics({d}, kNow);
    check_format(text);
    EXPECT_THAT(text, HasSubstr("dm_remap_remapped_blocks{device=\"we\\\"ird\\\\na\\nme\",set_uuid=\"\"} 4\n"));
}

TEST(Metrics, NoDevicesNoFamilies)
{
    EXPECT_EQ(render_metrics({}, kNow), "");
}

TEST(Metrics, WriteIsAtomicAndReadable)
{
    char tmpl[] = "/tmp/dmremap-metrics-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::filesystem::path dir = tmpl;
    write_metrics(dir, {device("data0")}, kNow);
    struct stat st {};
    ASSERT_EQ(::stat((dir / "dm_remap.prom").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
    std::size_t n = 0;
    for ([[maybe_unused]] const auto &e : std::filesystem::directory_iterator(dir))
        ++n;
    EXPECT_EQ(n, 1u); // no temporary left behind
    std::filesystem::remove_all(dir);
}

} // namespace

namespace {

// assess_stored: a status given, the state files read, nothing else.
TEST(Metrics, AssessStoredReadsTheStateFiles)
{
    char tmpl[] = "/tmp/dmremap-state-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::filesystem::path root = tmpl;
    ::setenv("DM_REMAP_STATE_DIR", tmpl, 1);
    const std::string uuid = "0b3d8f4e-8f43-4a43-9a8e-6c3f7f1a2b3c";
    std::filesystem::create_directories(root / uuid);
    {
        History h(root / uuid / "history.jsonl");
        for (int d = 0; d < 10; ++d) {
            HistorySample s;
            s.time = kNow - (10 - d) * 86400;
            s.why = "daily";
            s.spare_used = 10 * static_cast<std::uint64_t>(d);
            s.spare_total = 10000;
            s.smart = {{"smart_passed", 1}, {"ata_5", d > 5 ? 3 : 0}};
            h.append(s);
        }
    }
    ScanRecord scan;
    scan.end = kNow - 60;
    scan.complete = true;
    scan.blocks = scan.next_block = 100;
    scan.bad_count = 1;
    {
        std::ofstream(root / uuid / "last-scan.json") << nlohmann::json(scan).dump();
        std::ofstream(root / uuid / "scan-checkpoint.json") << "{torn";
    }
    DeviceStatus st;
    st.target.spare_used = 100;
    st.target.spare_total = 10000;
    const auto d = assess_stored("data0", uuid, st, kNow);
    ::unsetenv("DM_REMAP_STATE_DIR");
    EXPECT_EQ(d.history.size(), 10u);
    ASSERT_TRUE(d.last_scan);
    EXPECT_EQ(d.last_scan->bad_count, 1u);
    EXPECT_FALSE(d.checkpoint);
    ASSERT_TRUE(d.smart);
    EXPECT_EQ(d.smart->ata_raw.at(5), 3u);
    EXPECT_EQ(d.health.forecast.kind, Forecast::Kind::Projected);
    std::vector<std::string> codes;
    for (const auto &r : d.health.reasons)
        codes.push_back(r.code);
    EXPECT_EQ(codes, (std::vector<std::string>{"scan-errors-first", "smart-reallocated"}));
    // No set UUID: assessed all the same, without history.
    const auto none = assess_stored("byhand", "", st, kNow);
    EXPECT_TRUE(none.history.empty());
    EXPECT_EQ(none.health.forecast.kind, Forecast::Kind::NotEnoughData);
    std::filesystem::remove_all(root);
}

} // namespace
