// SPDX-License-Identifier: GPL-2.0-or-later
#include "args.hpp"
#include "text.hpp"

#include <gtest/gtest.h>

using namespace dmremap::cli;

TEST(CliText, ParseSize)
{
    EXPECT_EQ(parse_size("4096"), 4096u);
    EXPECT_EQ(parse_size("64K"), 65536u);
    EXPECT_EQ(parse_size("10M"), 10u << 20);
    EXPECT_EQ(parse_size("1.5GiB"), 3ull << 29);
    EXPECT_EQ(parse_size("2T"), 2ull << 40);
    EXPECT_EQ(parse_size("12B"), 12u);
    for (const char *bad : {"", "M", "1.2.3M", "-5", "5X", ".5M", "99999999999999999999999", "20000000T"})
        EXPECT_FALSE(parse_size(bad)) << bad;
    EXPECT_EQ(human_size(512), "512 bytes");
    EXPECT_EQ(human_size(3ull << 29), "1.5 GiB");
}

TEST(CliArgs, OptionsAndErrors)
{
    const std::vector<OptionSpec> spec = {{"name", true}, {"force", false}, {"help", false, 'h'}};
    auto parse = [&](std::vector<const char *> v) {
        v.insert(v.begin(), {"dmremapctl", "format"});
        return Args("format", spec, static_cast<int>(v.size()), const_cast<char **>(v.data()), 2);
    };
    Args a = parse({"--name", "x", "/dev/a", "--force", "/dev/b"});
    EXPECT_EQ(a.value("name"), "x");
    EXPECT_TRUE(a.flag("force"));
    EXPECT_EQ(a.positional(), (std::vector<std::string>{"/dev/a", "/dev/b"}));
    EXPECT_EQ(parse({"--name=y", "-h"}).value("name"), "y");
    EXPECT_EQ(parse({"--", "--force"}).positional().at(0), "--force");
    try {
        parse({"--bogus"});
        FAIL();
    } catch (const UsageError &e) {
        EXPECT_STREQ(e.what(), "format: unknown option '--bogus'");
    }
    EXPECT_THROW(parse({"--name"}), UsageError);
    EXPECT_THROW(parse({"--force=1"}), UsageError);
    EXPECT_THROW(parse({"--name", "a", "--name", "b"}), UsageError);
    EXPECT_THROW(parse({}).need(1, 1, "DEV"), UsageError);
}
