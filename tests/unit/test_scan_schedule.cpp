// SPDX-License-Identifier: GPL-2.0-or-later
// ScanSchedule's checks of a schedule and the drop-in it writes: what
// reaches a unit file under /etc must be one calendar expression and
// nothing else.
#include <error.hpp>
#include <scan_schedule.hpp>

#include <gtest/gtest.h>

using dmremap::Error;
using dmremap::ScanSchedule;

namespace {

Error::Code parse_error(const std::string &spec)
{
    try {
        ScanSchedule::parse(spec);
    } catch (const Error &e) {
        return e.code();
    }
    ADD_FAILURE() << "'" << spec << "' accepted";
    return Error::Code::Failed;
}

std::string validate_message(const std::string &spec)
{
    try {
        ScanSchedule::validate(spec);
    } catch (const Error &e) {
        EXPECT_EQ(e.code(), Error::Code::InvalidArgument) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "'" << spec << "' accepted";
    return "";
}

} // namespace

TEST(ScanSchedule, Keywords)
{
    const auto off = ScanSchedule::parse("off");
    EXPECT_TRUE(off.off);
    EXPECT_TRUE(off.calendar.empty());
    EXPECT_FALSE(off.is_default());
    const auto weekly = ScanSchedule::parse("weekly");
    EXPECT_FALSE(weekly.off);
    EXPECT_TRUE(weekly.is_default());
    for (const char *s : {"daily", "monthly", "Sat *-*-* 02:00", "Mon..Fri *-*-* 22:30:00 Europe/Berlin",
                          "*-*~01 03:00", "*-*-1/2 04:00", "Sun,Wed 01:00 UTC"}) {
        const auto p = ScanSchedule::parse(s);
        EXPECT_FALSE(p.off) << s;
        EXPECT_FALSE(p.is_default()) << s;
        EXPECT_EQ(p.calendar, s);
    }
}

// Text that would change the drop-in's meaning: a second line (another
// setting, another section), a specifier, a continuation, a comment.
TEST(ScanSchedule, RefusesWhatIsNotCalendarSyntax)
{
    for (const char *s : {"", "daily\nExecStart=/bin/sh", "daily\n[Service]", "%n", "daily \\", "daily\r",
                          "#daily", "daily;x", "daily\"", "'daily'", "$(id)", " daily", "daily ", "daily\t"})
        EXPECT_EQ(parse_error(s), Error::Code::InvalidArgument) << s;
    EXPECT_EQ(parse_error(std::string(201, '*')), Error::Code::InvalidArgument);
    EXPECT_EQ(parse_error(std::string("da\0ly", 5)), Error::Code::InvalidArgument);
    EXPECT_EQ(parse_error("d\xc3\xa4ily"), Error::Code::InvalidArgument);
}

TEST(ScanSchedule, DropinClearsTheWeeklyScheduleFirst)
{
    const auto spec = ScanSchedule::parse("Sat *-*-* 02:00");
    const std::string text = ScanSchedule::dropin_text(spec);
    // Everything but comments: one section, the reset, the new value.
    std::string settings;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto nl = text.find('\n', pos);
        ASSERT_NE(nl, std::string::npos) << "last line without a newline";
        const std::string line = text.substr(pos, nl - pos);
        if (!line.empty() && line[0] != '#')
            settings += line + "\n";
        pos = nl + 1;
    }
    EXPECT_EQ(settings, "[Timer]\nOnCalendar=\nOnCalendar=Sat *-*-* 02:00\n");
}

TEST(ScanSchedule, UnitNames)
{
    EXPECT_EQ(ScanSchedule::timer_unit("backup"), "dm-remap-scan@backup.timer");
    EXPECT_EQ(ScanSchedule::service_unit("backup"), "dm-remap-scan@backup.service");
    // %i passes the instance on unchanged: these characters need no escaping.
    EXPECT_EQ(ScanSchedule::timer_unit("remap-0a1b2c3d"), "dm-remap-scan@remap-0a1b2c3d.timer");
    EXPECT_EQ(ScanSchedule::timer_unit("a_b.c:d@e"), "dm-remap-scan@a_b.c:d@e.timer");
    for (const char *bad : {"a+b", "", "../x", "a/b", "a b"}) {
        try {
            ScanSchedule::timer_unit(bad);
            ADD_FAILURE() << "'" << bad << "' accepted";
        } catch (const Error &e) {
            EXPECT_EQ(e.code(), Error::Code::InvalidArgument) << bad;
        }
    }
}

// systemd's own parser decides what parse lets through.
TEST(ScanSchedule, ValidateAsksSystemd)
{
    EXPECT_TRUE(ScanSchedule::validate("off").off);
    EXPECT_EQ(ScanSchedule::validate("daily").calendar, "daily");
    EXPECT_EQ(ScanSchedule::validate("Sat *-*-* 02:00").calendar, "Sat *-*-* 02:00");
    EXPECT_NE(validate_message("fortnightly").find("is not a calendar expression"), std::string::npos);
    EXPECT_NE(validate_message("*-*-* 25:00").find("is not a calendar expression"), std::string::npos);
    EXPECT_NE(validate_message("2000-01-01 00:00").find("never elapses"), std::string::npos);
    // parse's refusal comes first: systemd-analyze never sees a newline.
    EXPECT_NE(validate_message("daily\nx").find("byte 10"), std::string::npos);
}
