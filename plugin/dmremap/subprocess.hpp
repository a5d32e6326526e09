// SPDX-License-Identifier: LGPL-2.1-or-later
// Running a helper program (smartctl, systemctl, systemd-analyze): no
// shell between a caller's text and the program, stdin from /dev/null,
// both outputs captured, and a bound on how long a hung disk or a busy
// systemd can hold the caller. posix_spawnp, so it is safe in the
// threaded daemon.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace dmremap {

struct ProcessResult {
    bool started = false;   // false: it could not be run; `error` says why
    bool timed_out = false; // killed at the deadline
    int status = -1;        // exit status; -1 when it did not exit by itself
    std::string out, err;
    std::string error;
};

ProcessResult run_process(const std::vector<std::string> &args, std::chrono::milliseconds timeout);

} // namespace dmremap
