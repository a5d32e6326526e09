// SPDX-License-Identifier: LGPL-2.1-or-later
#include "error.hpp"

#include <cstring>

namespace dmremap {

Error Error::from_errno(Code code, const std::string &what, int err)
{
    return Error(code, what + ": " + std::strerror(err), err);
}

const char *code_name(Error::Code code) noexcept
{
    switch (code) {
    case Error::Code::Failed: return "failed";
    case Error::Code::InvalidArgument: return "invalid-argument";
    case Error::Code::NotFound: return "not-found";
    case Error::Code::Io: return "io";
    case Error::Code::Busy: return "busy";
    case Error::Code::Exists: return "exists";
    case Error::Code::Corrupt: return "corrupt";
    case Error::Code::NoSpace: return "no-space";
    }
    return "failed";
}

} // namespace dmremap
