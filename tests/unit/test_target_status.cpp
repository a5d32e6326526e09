// SPDX-License-Identifier: GPL-2.0-or-later
// The kernel target's status line and message results, parsed. The
// inputs are outputs recorded from dm-remap.ko (tests/vm, 6.12).
#include <error.hpp>
#include <target_status.hpp>

#include <gtest/gtest.h>

using namespace dmremap;

namespace {

// Recorded from dm-remap.ko on 6.12 (tests/vm): a set of a data device and
// two spares, four blocks remapped to spare 1 and one unreadable block.
constexpr const char *kStatus =
    "metadata=ok block_size=4096 remapped=4 pending=1 spare_used=4 spare_total=512 read_errors=1 "
    "write_errors=4 remap_events=4 healed=0 exhausted=0 degraded=0 unavailable=0 seq=6 "
    "spares=0:0/0,1:4/256,2:0/256";
constexpr const char *kSpareStats = "253:0 index=0 total=0 used=0 free=0 live=0 state=ok\n"
                                    "253:1 index=1 total=256 used=4 free=252 live=4 state=ok\n"
                                    "253:2 index=2 total=256 used=0 free=256 live=0 state=ok\n";
constexpr const char *kList = "10 remapped 1:0\n11 remapped 1:1\n12 remapped 1:2\n13 remapped 1:3\n51 pending -\n";
// The same set started "degraded" without spare 1.
constexpr const char *kDegraded =
    "metadata=ok block_size=4096 remapped=4 pending=1 spare_used=0 spare_total=256 read_errors=2 "
    "write_errors=0 remap_events=0 healed=0 exhausted=0 degraded=1 unavailable=4 seq=6 "
    "spares=0:0/0,1:missing,2:0/256";
constexpr const char *kDegradedSpareStats = "253:0 index=0 total=0 used=0 free=0 live=0 state=ok\n"
                                            "- index=1 total=256 used=- free=- live=4 state=missing\n"
                                            "253:2 index=2 total=256 used=0 free=256 live=0 state=ok\n";
constexpr const char *kDegradedList =
    "10 remapped 1:0 missing\n11 remapped 1:1 missing\n12 remapped 1:2 missing\n13 remapped 1:3 missing\n"
    "51 pending -\n";

} // namespace

TEST(TargetStatus, ParsesEveryKey)
{
    const TargetStatus st = parse_status(kStatus);
    EXPECT_TRUE(st.metadata_ok);
    EXPECT_EQ(st.block_size, 4096u);
    EXPECT_EQ(st.remapped, 4u);
    EXPECT_EQ(st.pending, 1u);
    EXPECT_EQ(st.spare_used, 4u);
    EXPECT_EQ(st.spare_total, 512u);
    EXPECT_EQ(st.read_errors, 1u);
    EXPECT_EQ(st.write_errors, 4u);
    EXPECT_EQ(st.remap_events, 4u);
    EXPECT_FALSE(st.exhausted);
    EXPECT_FALSE(st.degraded);
    EXPECT_EQ(st.seq, 6u);
    ASSERT_EQ(st.spares.size(), 3u);
    EXPECT_EQ(st.spares[1], (SpareUse{1, false, 4, 256}));
    EXPECT_TRUE(st.other.empty());
}

TEST(TargetStatus, Degraded)
{
    const TargetStatus st = parse_status(kDegraded);
    EXPECT_TRUE(st.degraded);
    EXPECT_EQ(st.unavailable, 4u);
    ASSERT_EQ(st.spares.size(), 3u);
    EXPECT_EQ(st.spares[1], (SpareUse{1, true, 0, 0}));
    EXPECT_EQ(st.spares[2], (SpareUse{2, false, 0, 256}));
}

TEST(TargetStatus, KeepsKeysAddedLater)
{
    const TargetStatus st = parse_status(std::string(kStatus) + " health=ok");
    EXPECT_EQ(st.other.at("health"), "ok");
}

TEST(TargetStatus, RefusesWhatItCannotRead)
{
    for (const char *bad : {"", "metadata=ok", "linear 8:0 0", "metadata=maybe block_size=1 remapped=0 pending=0 spares=",
                            "metadata=ok block_size=x remapped=0 pending=0 spares=",
                            "metadata=ok block_size=4096 remapped=-1 pending=0 spares=",
                            "metadata=ok block_size=4096 remapped=0 pending=0 spares=1:2",
                            "metadata=ok block_size=4096 remapped=0 remapped=0 pending=0 spares=",
                            "metadata=ok block_size=4096 remapped=0 pending=0 exhausted=2 spares=",
                            "metadata=ok block_size=4096 remapped=99999999999999999999 pending=0 spares="}) {
        try {
            parse_status(bad);
            ADD_FAILURE() << "accepted: " << bad;
        } catch (const Error &e) {
            EXPECT_EQ(e.code(), Error::Code::InvalidArgument) << bad;
            EXPECT_FALSE(std::string(e.what()).empty());
        }
    }
}

TEST(TargetStatus, SpareStats)
{
    const auto s = parse_spare_stats(kSpareStats);
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(s[1], (SpareStat{"253:1", 1, 256, 4u, 252u, 4, "ok"}));
    const auto d = parse_spare_stats(kDegradedSpareStats);
    ASSERT_EQ(d.size(), 3u);
    EXPECT_EQ(d[1].device, "-");
    EXPECT_FALSE(d[1].used);
    EXPECT_EQ(d[1].live, 4u);
    EXPECT_EQ(d[1].state, "missing");
    EXPECT_THROW(parse_spare_stats("253:1 total=4\n"), Error);
    EXPECT_THROW(parse_spare_stats("253:1 index=x total=4 state=ok\n"), Error);
}

TEST(TargetStatus, ListRemaps)
{
    const auto l = parse_list_remaps(kList);
    ASSERT_EQ(l.size(), 5u);
    EXPECT_EQ(l[0], (RemapEntryInfo{10, false, 1, 0, false}));
    EXPECT_EQ(l[4], (RemapEntryInfo{51, true, 0, 0, false}));
    const auto d = parse_list_remaps(kDegradedList);
    ASSERT_EQ(d.size(), 5u);
    EXPECT_EQ(d[3], (RemapEntryInfo{13, false, 1, 3, true}));
    EXPECT_TRUE(parse_list_remaps("").empty());
    for (const char *bad : {"x remapped 0:0", "1 remapped 00", "1 gone -", "1 pending", "1 remapped 0:0 extra"})
        EXPECT_THROW(parse_list_remaps(bad), Error) << bad;
}

namespace {

// A data device and two spares; spare 1 failed while the set ran (its two
// blocks became pending, lost), spare 2 is missing. As the target formats
// it (kernel/dm-remap-target.c, remap_status); device_errors= is a later key.
constexpr const char *kFailed =
    "metadata=ok block_size=4096 remapped=2 pending=3 spare_used=2 spare_total=512 read_errors=0 "
    "write_errors=1 remap_events=2 healed=0 device_errors=1 exhausted=0 degraded=1 unavailable=0 seq=9 "
    "spares=0:0/0,1:2/256,2:missing members=0:ok,1:failed,2:missing";
constexpr const char *kFailedSpareStats = "253:0 index=0 total=0 used=0 free=0 live=0 state=ok\n"
                                          "253:1 index=1 total=256 used=2 free=254 live=0 state=failed\n"
                                          "- index=2 total=256 used=- free=- live=0 state=missing\n";
constexpr const char *kFailedList = "10 pending - lost\n11 pending - lost\n51 pending -\n";

} // namespace

TEST(TargetStatus, MemberStates)
{
    const TargetStatus st = parse_status(kFailed);
    ASSERT_EQ(st.members.size(), 3u);
    EXPECT_EQ(st.members[0], (MemberState{0, MemberHealth::Ok}));
    EXPECT_EQ(st.members[1], (MemberState{1, MemberHealth::Failed}));
    EXPECT_EQ(st.members[2], (MemberState{2, MemberHealth::Missing}));
    EXPECT_EQ(st.count(MemberHealth::Failed), 1u);
    EXPECT_EQ(st.count(MemberHealth::Missing), 1u);
    EXPECT_STREQ(member_health_name(st.members[1].health), "failed");
    // A failed member still in the table line keeps its spare use.
    EXPECT_EQ(st.spares[1], (SpareUse{1, false, 2, 256}));
    EXPECT_EQ(st.other.count("members"), 0u);
    EXPECT_EQ(st.other.at("device_errors"), "1");
    // A target without the token (before members could fail).
    EXPECT_TRUE(parse_status(kStatus).members.empty());
    EXPECT_EQ(parse_status(kStatus).count(MemberHealth::Failed), 0u);
    const std::string base = "metadata=ok block_size=4096 remapped=0 pending=0 spares=0:0/0 ";
    for (const char *bad : {"members=0:gone", "members=0", "members=x:ok", "members=0:ok,0:failed"})
        EXPECT_THROW(parse_status(base + bad), Error) << bad;
    const auto sp = parse_spare_stats(kFailedSpareStats);
    ASSERT_EQ(sp.size(), 3u);
    EXPECT_EQ(sp[1], (SpareStat{"253:1", 1, 256, 2u, 254u, 0, "failed"}));
}

TEST(TargetStatus, ListRemapsLostPending)
{
    const auto l = parse_list_remaps(kFailedList);
    ASSERT_EQ(l.size(), 3u);
    EXPECT_EQ(l[0], (RemapEntryInfo{10, true, 0, 0, false, true}));
    EXPECT_EQ(l[1], (RemapEntryInfo{11, true, 0, 0, false, true}));
    EXPECT_EQ(l[2], (RemapEntryInfo{51, true, 0, 0, false, false})); // unreadable, not lost
    EXPECT_EQ(parse_list_remaps("7 pending lost\n").at(0), (RemapEntryInfo{7, true, 0, 0, false, true}));
    for (const char *bad : {"1 pending - lust", "1 pending lost -", "1 pending - lost x", "1 remapped 0:0 lost"})
        EXPECT_THROW(parse_list_remaps(bad), Error) << bad;
}
