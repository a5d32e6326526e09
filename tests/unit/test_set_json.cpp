// SPDX-License-Identifier: GPL-2.0-or-later
#include "helpers.hpp"

#include <error.hpp>
#include <set_json.hpp>
#include <set_writer.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace dmremap;
using namespace dmremap::test;
using nlohmann::json;

namespace {

json sample()
{
    MemSet s = make_set();
    SetWriter w({{s.devs[0].get(), s.sb(0)}, {s.devs[1].get(), s.sb(1)}}, s.plan.state, 0, 1);
    w.commit({remapped(5, 1, 3), pending(9), retired(0, 2)});
    return SetJson::dump(s.check(), 0);
}

std::string parse_error(const json &j)
{
    try {
        SetJson::parse(j);
    } catch (const Error &e) {
        EXPECT_EQ(e.code(), Error::Code::InvalidArgument);
        return e.what();
    }
    return "(accepted)";
}

} // namespace

TEST(SetJson, DumpHasTheDocumentedKeys)
{
    json j = sample();
    for (const char *k : {"set_uuid", "name", "block_size", "data_offset_sectors", "data_sectors", "members",
                          "remaps", "retired", "seq", "generation", "counts", "member"})
        EXPECT_TRUE(j.contains(k)) << k;
    EXPECT_EQ(j["name"], "test");
    EXPECT_EQ(j["data_offset_sectors"].get<std::uint64_t>() % 2048, 0u);
    ASSERT_EQ(j["remaps"].size(), 2u);
    EXPECT_EQ(j["remaps"][0]["block"], 5);
    EXPECT_EQ(j["remaps"][0]["state"], "remapped");
    EXPECT_EQ(j["remaps"][1]["spare_member"], nullptr);
    EXPECT_EQ(j["retired"][0]["spare_block"], 2);
    EXPECT_EQ(j["counts"]["pending"], 1);
}

TEST(SetJson, RoundTrip)
{
    json j = sample();
    SetDescription d = SetJson::parse(j);
    EXPECT_EQ(d.state.size(), 3u);
    EXPECT_EQ(d.common.name, "test");
    EXPECT_EQ(d.state.members.size(), 2u);
}

TEST(SetJson, BadInputNamesTheKey)
{
    using testing::HasSubstr;
    json j = sample();
    EXPECT_THAT(parse_error(json::array()), HasSubstr("not a JSON object"));
    json k = j;
    k.erase("set_uuid");
    EXPECT_THAT(parse_error(k), HasSubstr("set_uuid: missing"));
    k = j;
    k["block_size"] = "big";
    EXPECT_THAT(parse_error(k), HasSubstr("block_size: must be a non-negative integer"));
    k = j;
    k["remaps"][0]["state"] = "weird";
    EXPECT_THAT(parse_error(k), HasSubstr("remaps[0].state"));
    k = j;
    k["remaps"][0]["block"] = k["data_sectors"];
    EXPECT_THAT(parse_error(k), HasSubstr("beyond the data area"));
    k = j;
    k["remaps"][1]["block"] = 5;
    EXPECT_THAT(parse_error(k), HasSubstr("listed twice"));
    k = j;
    k["remaps"][0]["spare_member"] = 7;
    EXPECT_THAT(parse_error(k), HasSubstr("spare member 7 does not exist"));
    k = j;
    k["members"][1]["index"] = 0;
    EXPECT_THAT(parse_error(k), HasSubstr("listed twice"));
    k = j;
    k["name"] = "no spaces";
    EXPECT_THAT(parse_error(k), HasSubstr("name: is not a valid device name"));
    k = j;
    k["seq"] = -1;
    EXPECT_THAT(parse_error(k), HasSubstr("seq: must be a non-negative integer"));
    k = j;
    k["members"][0]["spare_offset_sectors"] = 8;
    EXPECT_THAT(parse_error(k), HasSubstr("overlaps"));
}
