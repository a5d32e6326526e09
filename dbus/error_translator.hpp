// SPDX-License-Identifier: GPL-2.0-or-later
// The one place where failures become D-Bus errors. sdbus-c++ 1.2 lets any
// exception other than sdbus::Error escape a handler and end the process,
// so every reply path funnels through translate().
#pragma once

#include <exception>
#include <chrono>
#include <functional>
#include <string>

#include <sdbus-c++/Error.h>

namespace dmremap::daemon {

class ErrorTranslator {
public:
    static constexpr const char *kPrefix = "org.dmremap1.Error.";

    // dmremap::Error by code; our own sdbus::Error as it is; anything else
    // as Failed. `spares_exhausted` (may be empty) is asked when a remap or
    // spare operation ran out of room with ENOSPC: true turns NoSpace into
    // SpareExhausted, which tells a client to add a spare rather than retry.
    static sdbus::Error translate(std::exception_ptr error, const std::function<bool()> &spares_exhausted = {});

    // A job whose Cancel suspended its device at least once (the caller
    // knows; call it only then): an ending caused by that suspend (EINTR
    // from the kernel's evacuation, or Busy with EBUSY or the library's
    // "is suspended": the device was suspended when the work looked or sent
    // its message) is Cancelled; any other failure (EROFS's Busy too)
    // translates as above.
    static sdbus::Error translate_canceled(std::exception_ptr error, const std::function<bool()> &spares_exhausted = {});

    // Refusals that come from the daemon itself, not from the library.
    static sdbus::Error not_authorized(const std::string &message);
    static sdbus::Error cancelled(const std::string &message);
    // The call `what` was not done within `timeout`: a device keeps it.
    static sdbus::Error timed_out(const std::string &what, std::chrono::milliseconds timeout);
};

} // namespace dmremap::daemon
