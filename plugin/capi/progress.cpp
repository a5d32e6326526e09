// SPDX-License-Identifier: LGPL-2.1-or-later
#include "progress.hpp"

// The header has no extern "C" of its own.
extern "C" {
#include <blockdev/utils.h>
}

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace dmremap::capi {
namespace {

std::string message_of(const std::exception_ptr &e)
{
    try {
        std::rethrow_exception(e);
    } catch (const std::exception &x) {
        return x.what();
    } catch (...) {
        return "failed";
    }
}

} // namespace

void run_reporting_progress(const std::string &started, const std::function<void(const RemapDevice::Progress &)> &work)
{
    struct Shared {
        std::mutex m;
        std::condition_variable cv;
        unsigned percent = 0; // the highest seen
        bool done = false;
        std::exception_ptr error;
    } s;
    const guint64 task = bd_utils_report_started(started.c_str());
    std::jthread worker([&] {
        try {
            work([&](std::uint32_t done, std::uint32_t total) {
                if (total == 0)
                    return;
                const auto pct = static_cast<unsigned>(std::min<std::uint64_t>(100, std::uint64_t{done} * 100 / total));
                const std::lock_guard lock(s.m);
                if (pct > s.percent) {
                    s.percent = pct;
                    s.cv.notify_one();
                }
            });
        } catch (...) {
            s.error = std::current_exception();
        }
        const std::lock_guard lock(s.m);
        s.done = true;
        s.cv.notify_one();
    });
    unsigned reported = 0;
    for (bool done = false; !done;) {
        unsigned pct = 0;
        {
            std::unique_lock lock(s.m);
            s.cv.wait(lock, [&] { return s.done || s.percent > reported; });
            pct = s.percent;
            done = s.done;
        }
        // Outside the lock: the caller's function may take its time.
        if (pct > reported) {
            reported = pct;
            bd_utils_report_progress(task, pct, nullptr);
        }
    }
    worker.join();
    if (s.error) {
        bd_utils_report_finished(task, message_of(s.error).c_str());
        std::rethrow_exception(s.error);
    }
    bd_utils_report_finished(task, "Completed");
}

} // namespace dmremap::capi
