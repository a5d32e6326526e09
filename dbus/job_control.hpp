// SPDX-License-Identifier: GPL-2.0-or-later
// Whether a job runs, and stopping it early. Shared by the Job object (its
// Cancel), the worker task that runs the job and pending authorization
// callbacks, any of which may outlive the others.
//
// A scan checks a flag between its reads: a cancel sets it (ByFlag).
//
// An evacuation is different: one kernel message that stops (with
// EINTR) when the device is suspended, keeping what it moved. So a cancel
// suspends and resumes the device from a thread of its own (the worker is
// inside the message), again a few times while the job still runs: a
// suspend that lands just before the message starts makes the message
// refuse (EBUSY), one that lands during it interrupts it, one before the
// worker looked is seen as "suspended"; only one after the message ended
// misses, and then the job ended on its own.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace dmremap::daemon {

class JobControl {
public:
    // `device`: the device-mapper device whose suspend interrupts the job;
    // nullopt: the job cannot be canceled.
    explicit JobControl(std::optional<std::string> device);
    // Canceled through stop_flag(), which the work polls.
    struct ByFlag {};
    explicit JobControl(ByFlag);
    // Joins the interrupting thread, if any: the device is resumed by then.
    ~JobControl();
    JobControl(const JobControl &) = delete;
    JobControl &operator=(const JobControl &) = delete;

    bool cancelable() const { return device_.has_value() || by_flag_; }
    const std::atomic<bool> &stop_flag() const { return stop_; }
    const std::optional<std::string> &device() const { return device_; }

    // Worker: the job's work starts now; false when it was canceled before
    // (then it must not start).
    bool begin();
    // Worker: the work returned. Waits for an interruption in progress, so
    // the device is resumed (or given up on, see resume_failure()) when
    // this returns. True when a cancel suspended the device at least once
    // while the work ran: only then may the work's EINTR/EBUSY be read as
    // "canceled".
    bool end();
    // After end(): set when a cancel suspended the device and could not
    // resume it; says so and how to resume it, for the job's Completed.
    std::optional<std::string> resume_failure();

    enum class CancelResult { Requested, AlreadyFinished };
    // Any thread, never blocks. Throws (and stays not canceled) when the
    // interrupting thread cannot be started.
    CancelResult cancel();

private:
    enum class Phase { Queued, Running, Done };
    enum class Interrupt { Suspended, Skipped };
    // The interrupting thread: suspend and resume until the job ends, a
    // bounded number of times. Nothing escapes it.
    void interrupt_until_done() noexcept;
    // One suspend and resume.
    Interrupt interrupt_once();
    // Resumes the device we suspended, retrying with backoff for a while;
    // records the failure when it stays suspended.
    void resume_suspended(const std::string &name) noexcept;

    const std::optional<std::string> device_;
    const bool by_flag_ = false;
    std::atomic<bool> stop_{false};
    // mutex_ protects phase_, canceled_ and interrupted_; changed_ tells the
    // interrupting thread the job ended.
    std::mutex mutex_;
    std::condition_variable changed_;
    Phase phase_ = Phase::Queued;
    bool canceled_ = false;
    bool interrupted_ = false;
    std::optional<std::string> resume_failure_;
    bool skip_logged_ = false; // touched only by the interrupting thread
    // Started by cancel() on a running job, joined by end() or the
    // destructor; touched only under mutex_ until joined.
    std::thread interrupter_;
};

} // namespace dmremap::daemon
