// SPDX-License-Identifier: GPL-2.0-or-later
// Follows the org.dmremap1.Job the daemon shows while a call on a device
// runs (RemoveSpare with evacuation): the job whose Objects name the
// device appears (InterfacesAdded) and reports Progress (PropertiesChanged).
// The call itself returns the result; this only serves the bus until it
// has. Listening starts at construction, before the call is made.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include <sdbus-c++/sdbus-c++.h>

namespace dmremap::cli {

class JobWatch {
public:
    // `object`: the Device object path the job works on.
    JobWatch(sdbus::IConnection &bus, std::string object);
    JobWatch(const JobWatch &) = delete;
    JobWatch &operator=(const JobWatch &) = delete;

    // Serves the bus until `done()`; `progress` hears each new Progress
    // (0..1) of the job on the object.
    void wait(const std::function<bool()> &done, const std::function<void(double)> &progress);
    // The job's path, once it has appeared.
    const std::optional<std::string> &job() const { return job_; }
    // Once SIGINT or SIGTERM came (StopSignals) and the job is there, asks
    // it to stop, once; its reply still ends the wait.
    void cancel_on_stop(const std::map<std::string, sdbus::Variant> &options);
    // The job's Bytes, read once the job is there; 0 before.
    std::uint64_t bytes();

private:
    void pump(const std::function<bool()> &done);

    sdbus::IConnection &bus_;
    const std::string object_;
    std::optional<std::string> job_; // the path of our object's job, once seen
    double progress_ = -1;
    bool cancel_sent_ = false;
    std::uint64_t bytes_ = 0;
    sdbus::Slot added_slot_, progress_slot_;
};

} // namespace dmremap::cli
