// SPDX-License-Identifier: GPL-2.0-or-later
// Re-reads a device when a change ends, failed or not: a refused remap may
// still have changed the device (spares now exhausted), a stopped replace
// has switched tables back, and a caller reading properties after the
// reply should see that.
#pragma once

#include "daemon.hpp"

#include <string>
#include <utility>

namespace dmremap::daemon {

class RefreshAfter {
public:
    RefreshAfter(Daemon &daemon, std::string name) : daemon_(daemon), name_(std::move(name)) {}
    ~RefreshAfter()
    {
        try {
            daemon_.settle(name_);
        } catch (...) {
            // The next uevent refreshes it again.
        }
    }
    RefreshAfter(const RefreshAfter &) = delete;
    RefreshAfter &operator=(const RefreshAfter &) = delete;

private:
    Daemon &daemon_;
    std::string name_;
};

} // namespace dmremap::daemon
