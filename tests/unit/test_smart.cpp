// SPDX-License-Identifier: GPL-2.0-or-later
// smartctl's JSON of real drives (tests/data/smart/README.md says whose),
// parsed to exact values; garbage gives "not available", never a throw.
#include <smart.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

using namespace dmremap;

namespace {

SmartReport fixture(const std::string &name)
{
    std::ifstream in(std::string(DMREMAP_TEST_DATA) + "/smart/" + name);
    EXPECT_TRUE(in) << name;
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_smartctl_json(ss.str());
}

TEST(Smart, AtaHealthy)
{
    const auto r = fixture("ata-healthy.json");
    EXPECT_TRUE(r.available) << r.error;
    EXPECT_EQ(r.protocol, "ATA");
    EXPECT_EQ(r.model, "ST18000NM000J-2TV103");
    EXPECT_EQ(r.device, "/dev/sda");
    EXPECT_EQ(r.passed, true);
    const std::map<int, std::uint64_t> want = {{5, 0}, {187, 0}, {188, 0}, {197, 0}, {198, 0}};
    EXPECT_EQ(r.ata_raw, want);
    EXPECT_FALSE(r.nvme_media_errors);
    EXPECT_EQ(r.values().at("smart_passed"), 1);
    EXPECT_EQ(r.values().at("ata_197"), 0);
}

TEST(Smart, AtaReallocatedAndPacked188)
{
    const auto r = fixture("ata-reallocated-188-packed.json");
    EXPECT_TRUE(r.available);
    EXPECT_EQ(r.model, "ST3000NM0033-9ZM178");
    EXPECT_EQ(r.passed, true);
    EXPECT_EQ(r.ata_raw.at(5), 1u);
    // Three 16-bit counters (4, 4, 4) in one raw value, as smartctl gives it.
    EXPECT_EQ(r.ata_raw.at(188), 17180131332u);
    EXPECT_EQ(r.ata_raw.at(187), 0u);
    EXPECT_EQ(r.ata_raw.at(197), 0u);
    EXPECT_EQ(r.ata_raw.at(198), 0u);
}

TEST(Smart, AtaFailingWithPendingSectors)
{
    // Exit status 216 (bits 3, 4, 6, 7): the JSON is read regardless.
    const auto r = fixture("ata-failing-pending.json");
    EXPECT_TRUE(r.available);
    EXPECT_EQ(r.model, "Hitachi HDS721050DLE630");
    EXPECT_EQ(r.serial, "MSK423Y20S3HBC");
    EXPECT_EQ(r.passed, false);
    EXPECT_EQ(r.ata_raw.at(5), 1975u);
    EXPECT_EQ(r.ata_raw.at(197), 8u);
    EXPECT_EQ(r.ata_raw.at(198), 0u);
    EXPECT_FALSE(r.ata_raw.contains(187));
    EXPECT_FALSE(r.ata_raw.contains(188));
    EXPECT_EQ(r.values().at("smart_passed"), 0);
    EXPECT_EQ(r.values().at("ata_5"), 1975);
}

TEST(Smart, NvmeHealthy)
{
    const auto r = fixture("nvme-healthy.json");
    EXPECT_TRUE(r.available);
    EXPECT_EQ(r.protocol, "NVMe");
    EXPECT_EQ(r.model, "SAMSUNG MZVL21T0HCLR-00B00");
    EXPECT_EQ(r.passed, true);
    EXPECT_TRUE(r.ata_raw.empty());
    EXPECT_EQ(r.nvme_media_errors, 0u);
    EXPECT_EQ(r.nvme_available_spare, 100);
    EXPECT_EQ(r.nvme_available_spare_threshold, 10);
    EXPECT_EQ(r.nvme_percentage_used, 16);
    EXPECT_EQ(r.values().at("nvme_percentage_used"), 16);
    EXPECT_EQ(r.values().at("nvme_available_spare_threshold"), 10);
}

TEST(Smart, NvmeMediaErrors)
{
    const auto r = fixture("nvme-media-errors.json");
    EXPECT_TRUE(r.available);
    EXPECT_EQ(r.model, "Samsung SSD 970 EVO 500GB");
    EXPECT_EQ(r.serial, "S466NX0M776250H");
    EXPECT_EQ(r.passed, true);
    EXPECT_EQ(r.nvme_media_errors, 7u);
    EXPECT_EQ(r.nvme_available_spare, 99);
    EXPECT_EQ(r.nvme_percentage_used, 3);
}

TEST(Smart, NvmeCriticalWarning)
{
    const auto r = fixture("nvme-critical-warning.json");
    EXPECT_TRUE(r.available);
    EXPECT_EQ(r.passed, false);
    EXPECT_EQ(r.nvme_media_errors, 0u);
    EXPECT_EQ(r.nvme_available_spare, 100);
    EXPECT_EQ(r.nvme_percentage_used, 0);
}

TEST(Smart, GarbageIsUnavailable)
{
    for (const char *text : {"", "garbage", "[1,2,3]", "{\"smart_status\": {\"passed\": \"yes\"}}",
                             "{\"ata_smart_attributes\": {\"table\": [{\"id\": \"x\", \"raw\": 5}]}}",
                             "{\"nvme_smart_health_information_log\": {\"media_errors\": -4}}", "{\"a\":"}) {
        SmartReport r;
        EXPECT_NO_THROW(r = parse_smartctl_json(text)) << text;
        if (r.available) {
            // Only the oddly typed-but-present cases get here: no values made up.
            EXPECT_TRUE(r.ata_raw.empty()) << text;
            EXPECT_FALSE(r.nvme_media_errors) << text;
        } else {
            EXPECT_FALSE(r.error.empty()) << text;
        }
    }
}

TEST(Smart, SmartctlMessageIsTheReason)
{
    const auto r = parse_smartctl_json(
        R"({"smartctl":{"version":[7,3],"exit_status":2,"messages":[{"string":"/dev/sdz: Unable to detect device type","severity":"error"}]}})");
    EXPECT_FALSE(r.available);
    EXPECT_EQ(r.error, "/dev/sdz: Unable to detect device type");
}

TEST(Smart, ReadSmartOfANonDiskNeverThrows)
{
    for (const char *dev : {"/dev/null", "/nonexistent/sdq"}) {
        SmartReport r;
        EXPECT_NO_THROW(r = read_smart(dev));
        EXPECT_FALSE(r.available);
        EXPECT_FALSE(r.error.empty());
    }
}

// A disk of this machine that has a /dev node and is not virtual, and
// one of its partitions if it has one; "" when there is none.
std::pair<std::string, std::string> real_disk()
{
    namespace fs = std::filesystem;
    std::error_code ec;
    for (const auto &e : fs::directory_iterator("/sys/class/block", ec)) {
        const std::string name = e.path().filename().string();
        bool virt = false;
        for (const char *v : {"dm-", "loop", "nullb", "md", "zram", "ram", "nbd"})
            virt = virt || name.rfind(v, 0) == 0;
        if (virt || fs::exists(e.path() / "partition") || !fs::exists("/dev/" + name))
            continue;
        std::string part;
        for (const auto &p : fs::directory_iterator(e.path(), ec))
            if (fs::exists(p.path() / "partition") && fs::exists("/dev/" + p.path().filename().string()))
                part = "/dev/" + p.path().filename().string();
        return {"/dev/" + name, part};
    }
    return {};
}

// read_smart runs $DM_REMAP_SMARTCTL on the whole disk and parses what it
// prints, whatever its exit status; a stand-in script plays smartctl.
TEST(Smart, ReadSmartRunsSmartctlOnTheWholeDisk)
{
    const auto [disk, part] = real_disk();
    if (disk.empty())
        GTEST_SKIP() << "no real disk on this machine";
    char tmpl[] = "/tmp/dmremap-smartctl-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string dir = tmpl, script = dir + "/smartctl", args = dir + "/args";
    {
        std::ofstream out(script);
        out << "#!/bin/sh\necho \"$@\" > " << args << "\ncat " << DMREMAP_TEST_DATA
            << "/smart/nvme-media-errors.json\nexit 64\n";
    }
    ::chmod(script.c_str(), 0755);
    ::setenv("DM_REMAP_SMARTCTL", script.c_str(), 1);
    const auto r = read_smart(part.empty() ? disk : part);
    std::ifstream in(args);
    std::string argv;
    std::getline(in, argv);
    EXPECT_TRUE(r.available) << r.error;
    EXPECT_EQ(r.device, disk);
    EXPECT_EQ(r.nvme_media_errors, 7u);
    EXPECT_EQ(argv, "--json=c -H -A -i " + disk);

    ::setenv("DM_REMAP_SMARTCTL", (dir + "/missing").c_str(), 1);
    const auto missing = read_smart(disk);
    EXPECT_FALSE(missing.available);
    EXPECT_THAT(missing.error, ::testing::HasSubstr("not installed"));
    ::unsetenv("DM_REMAP_SMARTCTL");
    std::filesystem::remove_all(dir);
}

TEST(Smart, VirtualDevicesHaveNoSmart)
{
    for (const char *dev : {"/dev/loop0", "/dev/zram0"}) {
        struct stat st {};
        if (::stat(dev, &st) < 0 || !S_ISBLK(st.st_mode))
            continue;
        const auto r = read_smart(dev);
        EXPECT_FALSE(r.available) << dev;
        EXPECT_THAT(r.error, ::testing::HasSubstr("virtual or stacked")) << dev;
    }
}

} // namespace
