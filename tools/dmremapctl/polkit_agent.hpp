// SPDX-License-Identifier: GPL-2.0-or-later
// A polkit text agent for dmremapctl, as systemctl starts one: a user at a
// terminal who goes through dm-remapd can type the administrator password
// polkit asks for even where no desktop agent runs (ssh, a text console).
#pragma once

#include <sys/types.h>

namespace dmremap::cli {

class PolkitAgent {
public:
    PolkitAgent() = default;
    ~PolkitAgent(); // stops the agent
    PolkitAgent(const PolkitAgent &) = delete;
    PolkitAgent &operator=(const PolkitAgent &) = delete;

    // --no-ask-password: polkit must not ask, and no agent is started.
    static void forbid_asking() noexcept;
    // Whether polkit may ask the user for a password: stdin is a terminal
    // and asking is not forbidden.
    static bool may_ask() noexcept;

    // Starts `pkttyagent --notify-fd N --fallback --process PID` for this
    // process and returns once it has registered with polkit (it closes
    // the fd), when polkit may ask, the caller is not root and pkttyagent
    // is on PATH; otherwise, or when it cannot be started, does nothing:
    // polkit then asks another agent or refuses. At most once.
    void start();
    bool running() const noexcept { return pid_ > 0; }

private:
    pid_t pid_ = -1;
    bool tried_ = false;
};

} // namespace dmremap::cli
