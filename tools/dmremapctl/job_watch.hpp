// SPDX-License-Identifier: GPL-2.0-or-later
// Follows an org.dmremap1.Job to its end: its Progress (PropertiesChanged)
// and its Completed signal. Listening starts at construction, before the
// call that creates the job: a job may be done before the reply naming it
// arrives.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>

#include <sdbus-c++/sdbus-c++.h>

namespace dmremap::cli {

class JobWatch {
public:
    explicit JobWatch(sdbus::IConnection &bus);
    JobWatch(const JobWatch &) = delete;
    JobWatch &operator=(const JobWatch &) = delete;

    // Blocks until `job` completes: (success, message). `progress` hears
    // each new Progress (0..1); `exists` tells whether the job's object is
    // still there, asked when nothing arrived for a while (a daemon gone
    // away never sends Completed).
    std::pair<bool, std::string> wait(const std::string &job, const std::function<void(double)> &progress,
                                      const std::function<bool()> &exists);

private:
    void pump();

    sdbus::IConnection &bus_;
    std::map<std::string, double> progress_;
    std::map<std::string, std::pair<bool, std::string>> completed_;
    sdbus::Slot completed_slot_, progress_slot_;
};

} // namespace dmremap::cli
