// SPDX-License-Identifier: GPL-2.0-or-later
// org.dmremap1.Job: a long operation a client can watch, udisks-style. It
// announces itself, sends Completed once and is then removed by the daemon.
#pragma once

#include "job_adaptor.h"
#include "job_control.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

namespace dmremap::daemon {

class Authorizer;

class JobObject final
    : public sdbus::AdaptorInterfaces<org::dmremap1::Job_adaptor, sdbus::ManagedObject_adaptor,
                                      sdbus::Properties_adaptor> {
public:
    JobObject(sdbus::IConnection &connection, Authorizer &authorizer, std::string path, std::string operation,
              std::vector<sdbus::ObjectPath> objects, std::uint32_t uid, std::shared_ptr<JobControl> control);
    ~JobObject();

    // Any thread (the library reports evacuation progress from its own):
    // `done` of `total` bytes. Progress only grows; Rate and
    // ExpectedEndTime follow from the time since the start.
    void set_progress(std::uint64_t done, std::uint64_t total) noexcept;
    // Any thread: what the job does now (Phase); a change only is sent.
    void set_phase(const std::string &phase) noexcept;
    // Asks a cancelable job to stop (the daemon's shutdown); never throws.
    void cancel() noexcept;
    // Progress to 1 when it succeeded, then Completed(success, message).
    void finish(bool success, const std::string &message);

private:
    void Cancel(sdbus::Result<> &&result, std::map<std::string, sdbus::Variant> options) override;

    std::string Operation() override { return operation_; }
    double Progress() override;
    bool ProgressValid() override;
    std::uint64_t Bytes() override;
    std::uint64_t Rate() override;
    std::uint64_t StartTime() override { return start_us_; }
    std::uint64_t ExpectedEndTime() override;
    std::string Phase() override;
    std::vector<sdbus::ObjectPath> Objects() override { return objects_; }
    std::uint32_t StartedByUID() override { return uid_; }
    bool Cancelable() override { return control_->cancelable(); }

    Authorizer &authorizer_;
    const std::string path_;
    const std::string operation_;
    const std::vector<sdbus::ObjectPath> objects_;
    const std::uint32_t uid_;
    // Shared: a Cancel waiting for polkit may outlive this object.
    const std::shared_ptr<JobControl> control_;
    const std::uint64_t start_us_; // CLOCK_REALTIME
    const std::chrono::steady_clock::time_point start_;
    // mutex_ protects what follows (set from the library's polling thread).
    std::mutex mutex_;
    double progress_ = 0.0;
    bool progress_valid_ = false;
    std::uint64_t bytes_ = 0, rate_ = 0, expected_end_us_ = 0;
    std::string phase_;
};

} // namespace dmremap::daemon
