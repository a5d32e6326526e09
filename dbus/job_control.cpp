// SPDX-License-Identifier: GPL-2.0-or-later
#include "job_control.hpp"

#include <dm_control.hpp>
#include <error.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>

namespace dmremap::daemon {
namespace {

// How often, and how long, a cancel keeps interrupting a job that has not
// ended yet: enough to get past the few status reads before the message
// (milliseconds), not so many that a stuck job means endless suspends.
constexpr int kMaxInterrupts = 20;
constexpr auto kInterruptEvery = std::chrono::milliseconds(250);
// A device we suspended must not stay so (its I/O would wait forever):
// resume keeps being retried, backing off, for this long.
constexpr auto kResumeFor = std::chrono::seconds(30);
constexpr auto kResumeFirstRetry = std::chrono::milliseconds(100);
constexpr auto kResumeMaxRetry = std::chrono::seconds(2);

} // namespace

JobControl::JobControl(std::optional<std::string> device) : device_(std::move(device)) {}

JobControl::JobControl(ByFlag) : by_flag_(true) {}

JobControl::~JobControl()
{
    {
        std::lock_guard lock(mutex_);
        phase_ = Phase::Done;
    }
    changed_.notify_all();
    if (interrupter_.joinable())
        interrupter_.join();
}

bool JobControl::begin()
{
    std::lock_guard lock(mutex_);
    if (canceled_) {
        phase_ = Phase::Done;
        return false;
    }
    phase_ = Phase::Running;
    return true;
}

bool JobControl::end()
{
    std::thread interrupter;
    {
        std::lock_guard lock(mutex_);
        phase_ = Phase::Done;
        interrupter = std::move(interrupter_);
    }
    changed_.notify_all();
    if (interrupter.joinable())
        interrupter.join();
    std::lock_guard lock(mutex_);
    return interrupted_;
}

std::optional<std::string> JobControl::resume_failure()
{
    std::lock_guard lock(mutex_);
    return resume_failure_;
}

JobControl::CancelResult JobControl::cancel()
{
    std::lock_guard lock(mutex_);
    if (phase_ == Phase::Done)
        return CancelResult::AlreadyFinished;
    if (canceled_)
        return CancelResult::Requested; // a second Cancel changes nothing
    // Queued: begin() sees the flag and the work never starts.
    if (phase_ == Phase::Running && by_flag_) {
        stop_.store(true);
        interrupted_ = true;
    } else if (phase_ == Phase::Running) {
        // Under the lock throughout: nobody sees canceled_ without the
        // thread that makes it true. A thread that cannot start leaves the
        // job not canceled (a later Cancel tries again) and the error to
        // the caller.
        interrupter_ = std::thread([this] { interrupt_until_done(); });
    }
    canceled_ = true;
    return CancelResult::Requested;
}

void JobControl::interrupt_until_done() noexcept
{
    try {
        for (int i = 0; i < kMaxInterrupts; ++i) {
            {
                std::lock_guard lock(mutex_);
                if (phase_ == Phase::Done)
                    return;
            }
            const Interrupt done = interrupt_once();
            std::unique_lock lock(mutex_);
            interrupted_ = interrupted_ || done == Interrupt::Suspended;
            // Left suspended: no more suspends on top of it.
            if (resume_failure_)
                return;
            if (changed_.wait_for(lock, kInterruptEvery, [this] { return phase_ == Phase::Done; }))
                return;
        }
        std::cerr << "dm-remapd: " << *device_ << ": the canceled job still runs after " << kMaxInterrupts
                  << " tries to interrupt it; left to finish\n";
    } catch (const std::exception &e) {
        // Nothing may leave this thread (std::terminate); the device is
        // resumed by interrupt_once's guard whatever happened.
        std::cerr << "dm-remapd: " << *device_ << ": cancel: " << e.what() << "; the job is left to finish\n";
    } catch (...) {
        std::cerr << "dm-remapd: " << *device_ << ": cancel failed; the job is left to finish\n";
    }
}

JobControl::Interrupt JobControl::interrupt_once()
{
    const std::string &name = *device_;
    // Resumes what this call suspended, on every way out.
    struct ResumeGuard {
        JobControl &self;
        const std::string &name;
        bool armed = false;
        ~ResumeGuard()
        {
            if (armed)
                self.resume_suspended(name);
        }
    } guard{*this, name};
    try {
        DmControl dm;
        const auto info = dm.info(name);
        // Gone, or suspended by someone else: not ours to resume.
        if (!info || info->suspended)
            return Interrupt::Skipped;
        // A table loaded by someone else (lvm, dmsetup reload) and not yet
        // resumed: our resume would make it live behind their back.
        if (info->inactive_table) {
            if (!skip_logged_)
                std::cerr << "dm-remapd: " << name << ": has an inactive table loaded by someone else; "
                          << "the cancel does not suspend it (its resume would swap that table in), the job goes on\n";
            skip_logged_ = true;
            return Interrupt::Skipped;
        }
        // A suspend that threw did not suspend (the ioctl failed): not
        // armed then, so a suspend by someone else is never resumed by us.
        dm.suspend(name);
        guard.armed = true;
        return Interrupt::Suspended;
    } catch (const std::exception &e) {
        std::cerr << "dm-remapd: cancel: " << e.what() << "\n";
        return Interrupt::Skipped;
    }
}

void JobControl::resume_suspended(const std::string &name) noexcept
{
    const auto until = std::chrono::steady_clock::now() + kResumeFor;
    std::chrono::milliseconds wait = kResumeFirstRetry;
    std::string last = "unknown error";
    for (;;) {
        try {
            DmControl dm;
            const auto info = dm.info(name);
            if (!info || !info->suspended)
                return; // gone, or the suspend never happened
            dm.resume(name);
            return;
        } catch (const std::exception &e) {
            last = e.what();
        } catch (...) {
            last = "unknown error";
        }
        if (std::chrono::steady_clock::now() + wait > until)
            break;
        std::cerr << "dm-remapd: cancel: resuming " << name << ": " << last << "; retrying\n";
        std::this_thread::sleep_for(wait);
        wait = std::min(wait * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kResumeMaxRetry));
    }
    try {
        const std::string message = "the cancel suspended " + name + " and could not resume it for " +
                                    std::to_string(kResumeFor.count()) + " s (" + last +
                                    "): it is left suspended, its I/O waits; resume it with 'dmsetup resume " +
                                    name + "'";
        std::cerr << "dm-remapd: " << message << "\n";
        std::lock_guard lock(mutex_);
        resume_failure_ = message;
    } catch (...) {
        std::cerr << "dm-remapd: " << name << " is left suspended; resume it with 'dmsetup resume NAME'\n";
    }
}

} // namespace dmremap::daemon
