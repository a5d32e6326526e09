// SPDX-License-Identifier: GPL-2.0-or-later
// Whether a job runs, and stopping it early. Shared by the Job object (its
// Cancel), the worker task that runs the job and pending authorization
// callbacks, any of which may outlive the others.
//
// The only long job is an evacuation: one kernel message that stops (with
// EINTR) when the device is suspended, keeping what it moved. So a cancel
// suspends and resumes the device from a thread of its own (the worker is
// inside the message), again a few times while the job still runs: a
// suspend that lands just before the message starts makes the message
// refuse (EBUSY), one that lands during it interrupts it, one before the
// worker looked is seen as "suspended"; only one after the message ended
// misses, and then the job ended on its own.
#pragma once

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
    // Joins the interrupting thread, if any: the device is resumed by then.
    ~JobControl();
    JobControl(const JobControl &) = delete;
    JobControl &operator=(const JobControl &) = delete;

    bool cancelable() const { return device_.has_value(); }
    const std::optional<std::string> &device() const { return device_; }

    // Worker: the job's work starts now; false when it was canceled before
    // (then it must not start).
    bool begin();
    // Worker: the work returned. Waits for an interruption in progress, so
    // the device is resumed when this returns. True when a cancel touched
    // the device (suspended and resumed it) while the work ran.
    bool end();
    // Any thread: whether Cancel was accepted.
    bool cancel_requested();

    enum class CancelResult { Requested, AlreadyFinished };
    // Any thread, never blocks.
    CancelResult cancel();

private:
    enum class Phase { Queued, Running, Done };
    // The interrupting thread: suspend and resume until the job ends, a
    // bounded number of times.
    void interrupt_until_done();
    // One suspend and resume; true when it suspended.
    bool interrupt_once();

    const std::optional<std::string> device_;
    // mutex_ protects phase_, canceled_ and interrupted_; changed_ tells the
    // interrupting thread the job ended.
    std::mutex mutex_;
    std::condition_variable changed_;
    Phase phase_ = Phase::Queued;
    bool canceled_ = false;
    bool interrupted_ = false;
    // Started by cancel() on a running job, joined by end() or the
    // destructor; touched only under mutex_ until joined.
    std::thread interrupter_;
};

} // namespace dmremap::daemon
