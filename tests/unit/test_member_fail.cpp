// SPDX-License-Identifier: GPL-2.0-or-later
// A spare member that failed while the set ran (DMR_MEMBER_F_FAILED) and
// the blocks that lost their latest data with it (DMR_PENDING_LOST):
// validation, check, dump/restore and the table line.
#include "helpers.hpp"

#include <dm-remap-format.h>
#include <metadata_area.hpp>
#include <restorer.hpp>
#include <set_json.hpp>
#include <set_manager.hpp>
#include <set_writer.hpp>
#include <validator.hpp>

#include <gtest/gtest.h>

using namespace dmremap;
using namespace dmremap::test;
using nlohmann::json;

namespace {

Entry lost(std::uint64_t block) { return Entry{block, DMR_PENDING_LOST, kNoMember, EntryState::Pending}; }

const Problem *find(const Report &r, const std::string &code)
{
    for (const auto &p : r.problems())
        if (p.code == code)
            return &p;
    return nullptr;
}

// Blocks 5 and 6 live on spare 1, block 7 on the data member's internal
// spare, block 9 is unreadable; then spare 1 fails as the kernel records
// it: its entries turn pending (lost), its record gets F_FAILED, and the
// membership commit (generation + 1, a snapshot of seq + 1) reaches only the
// data member, whose superblock is the commit point (docs/FORMAT.md §6).
struct FailedSet {
    MemSet s = make_set();
    RemapState before, after;

    FailedSet()
    {
        SetWriter w({{s.devs[0].get(), s.sb(0)}, {s.devs[1].get(), s.sb(1)}}, s.plan.state, 0, 1);
        w.commit({remapped(5, 1, 3), remapped(6, 1, 4), remapped(7, 0, 0), pending(9), retired(1, 0)});
        before = w.state();
        after = before;
        std::vector<Entry> entries;
        for (auto e : before.entries())
            entries.push_back(e.state == EntryState::Remapped && e.spare_index == 1 ? lost(e.data_block) : e);
        after.assign(entries);
        after.members.at(1).flags |= DMR_MEMBER_F_FAILED;
        after.generation = before.generation + 1;
        after.seq = before.seq + 1;
        Superblock data_sb = s.sb(0);
        data_sb.generation = after.generation;
        MetadataArea data(*s.devs[0], data_sb, "data");
        data.write_snapshot(after, data.load().slot == 0 ? 1 : 0);
        data.write_superblocks(data_sb);
    }
};

} // namespace

TEST(MemberFail, ValidatorFlagsAndPendingReasons)
{
    MemSet s = make_set();
    const auto &sb = s.sb(0);
    auto members = s.plan.state.members;
    auto check = [&](std::vector<Entry> es) { return validator::entries(es, members, sb, true, "t"); };
    EXPECT_FALSE(check({remapped(1, 1, 0), lost(2), pending(3)}).damaged());
    EXPECT_TRUE(check({Entry{1, 2, kNoMember, EntryState::Pending}}).has("entry-state")); // unknown reason
    EXPECT_TRUE(check({Entry{1, ~0u, kNoMember, EntryState::Pending}}).has("entry-state"));

    members.at(1).flags |= DMR_MEMBER_F_FAILED;
    const Report r = check({remapped(1, 1, 0)});
    ASSERT_TRUE(r.has("entry-state"));
    EXPECT_NE(find(r, "entry-state")->message.find("failed"), std::string::npos);
    // Retired locations on it may stay; the data member's area still counts.
    EXPECT_FALSE(check({remapped(1, 0, 0), lost(2), retired(1, 7)}).damaged());

    // The member table: F_FAILED (with or without the image flag) is known, 0x4 is not.
    for (std::uint32_t flags : {DMR_MEMBER_F_FAILED, DMR_MEMBER_F_FAILED | DMR_MEMBER_F_LOOP_IMAGE, 0x4u}) {
        auto ms = s.plan.state.members;
        ms.at(1).flags = flags;
        if (flags & DMR_MEMBER_F_LOOP_IMAGE)
            ms.at(1).image_path = "/var/lib/spare.img";
        EXPECT_EQ(validator::members(codec::pack_members(ms), sb, "t").has("members"), flags == 0x4u) << flags;
    }
}

TEST(MemberFail, CodecKeepsFlagAndReason)
{
    FailedSet f;
    SetView v = f.s.check();
    ASSERT_TRUE(v.state);
    EXPECT_EQ(*v.state, f.after);
    EXPECT_TRUE(v.state->members.at(1).failed());
    EXPECT_FALSE(v.state->members.at(0).failed());
    EXPECT_TRUE(v.state->find(5)->lost());
    EXPECT_FALSE(v.state->find(9)->lost());
    EXPECT_FALSE(v.state->find(7)->lost());
}

TEST(MemberFail, CheckWarnsAndNamesTheFix)
{
    FailedSet f;
    SetView v = f.s.check();
    ASSERT_TRUE(v.state);
    EXPECT_EQ(v.state->generation, f.after.generation);
    const Problem *p = find(v.report, "member-failed");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->severity, Severity::Warning);
    EXPECT_NE(p->where.find("member 1 (mem1)"), std::string::npos) << p->where;
    EXPECT_NE(p->message.find(f.after.members[1].uuid.str()), std::string::npos) << p->message;
    EXPECT_NE(p->message.find("dmremapctl spare remove NAME mem1"), std::string::npos) << p->message;
    // Behind by design, not stale: nothing may be written to it.
    EXPECT_FALSE(v.report.has("member-stale"));
    EXPECT_FALSE(v.report.has("member-generation"));
    const Problem *l = find(v.report, "pending-lost");
    ASSERT_TRUE(l);
    EXPECT_EQ(l->severity, Severity::Warning);
    EXPECT_EQ(l->message.rfind("2 blocks", 0), 0u) << l->message;
    EXPECT_EQ(v.report.count(Severity::Error), 0u);

    // Without its device: named by index, not "not given".
    SetView alone = Checker().run({f.s.devs[0].get()});
    p = find(alone.report, "member-failed");
    ASSERT_TRUE(p);
    EXPECT_NE(p->message.find("dmremapctl spare remove NAME index=1"), std::string::npos) << p->message;
    EXPECT_FALSE(alone.report.has("member-not-checked"));

    // Before the failure: neither warning.
    MemSet healthy = make_set();
    EXPECT_FALSE(healthy.check().report.has("member-failed"));
    EXPECT_FALSE(healthy.check().report.has("pending-lost"));
}

TEST(MemberFail, TableLineLeavesAFailedMemberOut)
{
    MemSet healthy = make_set();
    EXPECT_EQ(SetManager::table(healthy.check()).params, "mem0 1 mem1");
    EXPECT_THROW(SetManager::table(Checker().run({healthy.devs[0].get()})), Error); // spare missing

    FailedSet f;
    const DmTarget t = SetManager::table(f.s.check());
    EXPECT_EQ(t.type, "remap");
    EXPECT_EQ(t.length, f.s.sb(0).data_sectors);
    EXPECT_EQ(t.params, "mem0 0"); // given, yet not used: and no "degraded"
    EXPECT_EQ(SetManager::table(Checker().run({f.s.devs[0].get()})).params, "mem0 0");
}

TEST(MemberFail, DumpRestoreRoundTrip)
{
    FailedSet f;
    SetView v = f.s.check();
    const json j = SetJson::dump(v, 0);
    EXPECT_EQ(j["members"][0]["failed"], false);
    EXPECT_EQ(j["members"][1]["failed"], true);
    ASSERT_EQ(j["remaps"].size(), 4u);
    EXPECT_EQ(j["remaps"][0]["block"], 5);
    EXPECT_EQ(j["remaps"][0]["state"], "pending");
    EXPECT_EQ(j["remaps"][0]["lost"], true);
    EXPECT_EQ(j["remaps"][2]["lost"], false); // block 7, remapped
    EXPECT_EQ(j["remaps"][3]["lost"], false); // block 9, unreadable
    EXPECT_EQ(j["counts"]["lost"], 2);
    EXPECT_EQ(j["counts"]["pending"], 3);

    SetDescription d = SetJson::parse(j);
    EXPECT_EQ(d.state.entries(), f.after.entries());
    EXPECT_EQ(d.state.members, f.after.members);

    // Restored onto the data member alone, the flag and the reasons are on disk.
    RestoreResult r = Restorer::restore(d, {f.s.devs[0].get()}, false);
    EXPECT_EQ(r.indexes, (std::vector<std::uint16_t>{0}));
    SetView back = Checker().run({f.s.devs[0].get()});
    ASSERT_TRUE(back.state);
    EXPECT_EQ(back.state->entries(), f.after.entries());
    EXPECT_TRUE(back.state->members.at(1).failed());
    EXPECT_TRUE(back.report.has("member-failed"));
}

TEST(MemberFail, OldDumpsRestoreAndBadValuesAreRefused)
{
    FailedSet f;
    json j = SetJson::dump(f.s.check(), 0);
    // A dump made before members could fail has neither key.
    json old = j;
    for (auto &m : old["members"])
        m.erase("failed");
    for (auto &r : old["remaps"])
        r.erase("lost");
    SetDescription d = SetJson::parse(old);
    EXPECT_FALSE(d.state.members.at(1).failed());
    EXPECT_EQ(d.state.count(EntryState::Pending), 3u);
    for (const auto &e : d.state.entries())
        EXPECT_FALSE(e.lost()) << e.data_block;
    // null reads as absent.
    old["members"][1]["failed"] = nullptr;
    EXPECT_NO_THROW(SetJson::parse(old));

    auto refused = [](const json &bad) {
        try {
            SetJson::parse(bad);
        } catch (const Error &e) {
            EXPECT_EQ(e.code(), Error::Code::InvalidArgument);
            return std::string(e.what());
        }
        return std::string("(accepted)");
    };
    json b = j;
    b["members"][1]["failed"] = "yes";
    EXPECT_NE(refused(b).find("members[1].failed"), std::string::npos);
    b = j;
    b["remaps"][2]["lost"] = true; // a remapped block cannot be lost
    EXPECT_NE(refused(b).find("remaps[2].lost"), std::string::npos);
    b = j;
    b["remaps"][0] = {{"block", 5}, {"state", "remapped"}, {"spare_member", 1}, {"spare_block", 3}};
    EXPECT_NE(refused(b).find("failed"), std::string::npos) << refused(b); // lives on the failed member
}
