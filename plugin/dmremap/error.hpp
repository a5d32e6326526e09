// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <stdexcept>
#include <string>

namespace dmremap {

// The one exception type of the library. Boundaries (CLI, C API, D-Bus)
// translate it exactly once, by code.
class Error : public std::runtime_error {
public:
    enum class Code {
        Failed,          // anything without a better code
        InvalidArgument, // caller passed something malformed
        NotFound,        // device, member or file missing
        Io,              // read/write/flush failed
        Busy,            // mounted, open elsewhere, exclusive open refused
        Exists,          // would overwrite something (signature, other set)
        Corrupt,         // metadata damaged beyond what loading tolerates
        NoSpace,         // too small, capacity exhausted
    };

    Error(Code code, std::string message, int sys_errno = 0)
        : std::runtime_error(std::move(message)), code_(code), errno_(sys_errno) {}

    Code code() const noexcept { return code_; }
    int sys_errno() const noexcept { return errno_; }

    // Error naming the system error, e.g. "/dev/sdb: read at 4096: Input/output error".
    static Error from_errno(Code code, const std::string &what, int err);

private:
    Code code_;
    int errno_;
};

const char *code_name(Error::Code code) noexcept;

} // namespace dmremap
