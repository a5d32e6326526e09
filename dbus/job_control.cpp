// SPDX-License-Identifier: GPL-2.0-or-later
#include "job_control.hpp"

#include <dm_control.hpp>
#include <error.hpp>

#include <chrono>
#include <iostream>

namespace dmremap::daemon {
namespace {

// How often, and how long, a cancel keeps interrupting a job that has not
// ended yet: enough to get past the few status reads before the message
// (milliseconds), not so many that a stuck job means endless suspends.
constexpr int kMaxInterrupts = 20;
constexpr auto kInterruptEvery = std::chrono::milliseconds(250);
constexpr int kResumeTries = 10;
constexpr auto kResumeRetryAfter = std::chrono::milliseconds(100);

} // namespace

JobControl::JobControl(std::optional<std::string> device) : device_(std::move(device)) {}

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

bool JobControl::cancel_requested()
{
    std::lock_guard lock(mutex_);
    return canceled_;
}

JobControl::CancelResult JobControl::cancel()
{
    std::lock_guard lock(mutex_);
    if (phase_ == Phase::Done)
        return CancelResult::AlreadyFinished;
    if (canceled_)
        return CancelResult::Requested; // a second Cancel changes nothing
    canceled_ = true;
    // Queued: begin() sees the flag and the work never starts.
    if (phase_ == Phase::Running)
        interrupter_ = std::thread([this] { interrupt_until_done(); });
    return CancelResult::Requested;
}

void JobControl::interrupt_until_done()
{
    for (int i = 0; i < kMaxInterrupts; ++i) {
        {
            std::lock_guard lock(mutex_);
            if (phase_ == Phase::Done)
                return;
        }
        const bool suspended = interrupt_once();
        std::unique_lock lock(mutex_);
        interrupted_ = interrupted_ || suspended;
        if (changed_.wait_for(lock, kInterruptEvery, [this] { return phase_ == Phase::Done; }))
            return;
    }
    std::cerr << "dm-remapd: " << *device_ << ": the canceled job still runs after " << kMaxInterrupts
              << " suspends; left to finish\n";
}

bool JobControl::interrupt_once()
{
    DmControl dm;
    const std::string &name = *device_;
    try {
        const auto info = dm.info(name);
        // Gone, or suspended by someone else: not ours to resume.
        if (!info || info->suspended)
            return false;
        dm.suspend(name);
    } catch (const Error &e) {
        std::cerr << "dm-remapd: cancel: " << e.what() << "\n";
        return false;
    }
    // Never leave the device suspended: its I/O would wait forever.
    for (int i = 0; i < kResumeTries; ++i) {
        try {
            dm.resume(name);
            return true;
        } catch (const Error &e) {
            std::cerr << "dm-remapd: cancel: " << e.what() << (i + 1 < kResumeTries ? "; retrying" : "") << "\n";
        }
        std::this_thread::sleep_for(kResumeRetryAfter);
    }
    std::cerr << "dm-remapd: cancel: " << name << " could not be resumed; resume it with 'dmsetup resume " << name
              << "'\n";
    return true;
}

} // namespace dmremap::daemon
