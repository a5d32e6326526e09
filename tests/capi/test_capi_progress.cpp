// SPDX-License-Identifier: GPL-2.0-or-later
// The progress runner behind bd_remap_spare_remove's evacuation: the core
// calls back from its own threads, libblockdev's reporting function is
// looked up per thread, so every report has to reach the caller's thread
// in order: started, growing percentages, finished. The evacuation itself
// needs the kernel target (VM only); here the work is a stand-in that calls
// the callback the way RemapDevice::spare_remove does, from other threads.
#include <progress.hpp>

extern "C" {
#include <blockdev/utils.h>
}

#include <error.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace dmremap;
using dmremap::capi::run_reporting_progress;

namespace {

struct Report {
    guint64 task;
    BDUtilsProgStatus status;
    unsigned completion;
    std::string msg;
    std::thread::id thread;
};

std::mutex g_mutex;
std::vector<Report> g_reports;
std::atomic<unsigned> g_last_percent{0};

void record(guint64 task, BDUtilsProgStatus status, guint8 completion, gchar *msg)
{
    const std::lock_guard lock(g_mutex);
    g_reports.push_back({task, status, completion, msg ? msg : "", std::this_thread::get_id()});
    if (status == BD_UTILS_PROG_PROGRESS)
        g_last_percent = completion;
}

// Waits until the caller's thread has reported `pct`, so that each step of
// the stand-in is seen on its own rather than merged with the next.
void await_reported(unsigned pct)
{
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (g_last_percent < pct && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_GE(g_last_percent.load(), pct) << "the caller did not report " << pct << "% within 10 s";
}

class Progress : public ::testing::Test {
protected:
    void SetUp() override
    {
        g_reports.clear();
        g_last_percent = 0;
        ASSERT_TRUE(bd_utils_init_prog_reporting_thread(record, nullptr));
    }
    void TearDown() override
    {
        bd_utils_init_prog_reporting_thread(nullptr, nullptr);
        bd_utils_init_prog_reporting(nullptr, nullptr);
    }
    // Every report came on this (the calling) thread, for one task.
    void expect_on_caller()
    {
        ASSERT_FALSE(g_reports.empty());
        for (const auto &r : g_reports) {
            EXPECT_EQ(r.thread, std::this_thread::get_id()) << "status " << r.status << " from another thread";
            EXPECT_EQ(r.task, g_reports.front().task);
        }
    }
    static std::vector<unsigned> percentages()
    {
        std::vector<unsigned> out;
        for (const auto &r : g_reports)
            if (r.status == BD_UTILS_PROG_PROGRESS)
                out.push_back(r.completion);
        return out;
    }
};

} // namespace

TEST_F(Progress, StartedGrowingPercentagesFinished)
{
    run_reporting_progress("vol: moving the blocks living on /dev/loop7 to other spares",
                           [](const RemapDevice::Progress &progress) {
                               // The core's poller: a thread of its own.
                               std::thread poller([&] {
                                   progress(2, 8);
                                   await_reported(25);
                                   progress(2, 8); // no news
                                   progress(1, 8); // never backwards
                                   progress(6, 8);
                                   await_reported(75);
                               });
                               poller.join();
                               progress(8, 8); // the core's last call, from the worker
                           });
    expect_on_caller();
    ASSERT_GE(g_reports.size(), 2u);
    EXPECT_EQ(g_reports.front().status, BD_UTILS_PROG_STARTED);
    EXPECT_EQ(g_reports.front().msg, "vol: moving the blocks living on /dev/loop7 to other spares");
    EXPECT_EQ(g_reports.back().status, BD_UTILS_PROG_FINISHED);
    EXPECT_EQ(g_reports.back().completion, 100u);
    EXPECT_EQ(g_reports.back().msg, "Completed");
    EXPECT_EQ(percentages(), (std::vector<unsigned>{25, 75, 100}));
}

TEST_F(Progress, FailureFinishesWithTheMessageAndIsRethrown)
{
    try {
        run_reporting_progress("vol: evacuating", [](const RemapDevice::Progress &progress) {
            progress(1, 2);
            await_reported(50);
            throw Error(Error::Code::Busy, "vol: was suspended while /dev/loop7 was to be removed", 16);
        });
        FAIL() << "the work's error was swallowed";
    } catch (const Error &e) {
        EXPECT_EQ(e.code(), Error::Code::Busy);
        EXPECT_EQ(e.sys_errno(), 16);
        EXPECT_STREQ(e.what(), "vol: was suspended while /dev/loop7 was to be removed");
    }
    expect_on_caller();
    EXPECT_EQ(g_reports.front().status, BD_UTILS_PROG_STARTED);
    EXPECT_EQ(percentages(), (std::vector<unsigned>{50}));
    EXPECT_EQ(g_reports.back().status, BD_UTILS_PROG_FINISHED);
    EXPECT_EQ(g_reports.back().msg, "vol: was suspended while /dev/loop7 was to be removed");
}

// Nothing lived on the spare: the core never calls back (total 0 is
// ignored too), and the task still starts and finishes.
TEST_F(Progress, NothingToMove)
{
    run_reporting_progress("vol: evacuating", [](const RemapDevice::Progress &progress) { progress(0, 0); });
    expect_on_caller();
    ASSERT_EQ(g_reports.size(), 2u);
    EXPECT_EQ(g_reports[0].status, BD_UTILS_PROG_STARTED);
    EXPECT_EQ(g_reports[1].status, BD_UTILS_PROG_FINISHED);
    EXPECT_EQ(g_reports[1].msg, "Completed");
}

// The process-wide function (bd_utils_init_prog_reporting) is called on
// the caller's thread as well.
TEST_F(Progress, GlobalFunction)
{
    ASSERT_TRUE(bd_utils_init_prog_reporting_thread(nullptr, nullptr));
    ASSERT_TRUE(bd_utils_init_prog_reporting(record, nullptr));
    run_reporting_progress("vol: evacuating", [](const RemapDevice::Progress &progress) {
        std::thread([&] { progress(3, 3); }).join();
    });
    expect_on_caller();
    EXPECT_EQ(percentages(), (std::vector<unsigned>{100}));
    EXPECT_EQ(g_reports.back().status, BD_UTILS_PROG_FINISHED);
}

// Muted for this thread: the work runs, nothing is reported.
TEST_F(Progress, MutedThread)
{
    ASSERT_TRUE(bd_utils_mute_prog_reporting_thread(nullptr));
    ASSERT_TRUE(bd_utils_init_prog_reporting(record, nullptr));
    bool ran = false;
    run_reporting_progress("vol: evacuating", [&](const RemapDevice::Progress &progress) {
        progress(1, 1);
        ran = true;
    });
    EXPECT_TRUE(ran);
    EXPECT_TRUE(g_reports.empty());
}
