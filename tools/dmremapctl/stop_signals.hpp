// SPDX-License-Identifier: GPL-2.0-or-later
// SIGINT and SIGTERM during a scan stop it between two reads (resumably)
// instead of killing dmremapctl mid-read; the old dispositions come back
// when this goes. One at a time.
#pragma once

#include <atomic>
#include <csignal>

namespace dmremap::cli {

class StopSignals {
public:
    StopSignals();
    ~StopSignals();
    StopSignals(const StopSignals &) = delete;
    StopSignals &operator=(const StopSignals &) = delete;

    // Set by the handler; false when this was made.
    static const std::atomic<bool> &requested();

private:
    struct sigaction old_int_ = {}, old_term_ = {};
};

} // namespace dmremap::cli
