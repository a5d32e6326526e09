// SPDX-License-Identifier: GPL-2.0-or-later
#include "backend.hpp"

#include "args.hpp"
#include "direct_backend.hpp"
#ifdef DMREMAP_WITH_DBUS
#include "bus_backend.hpp"
#endif

#include <error.hpp>

#include <cstdlib>
#include <unistd.h>

namespace dmremap::cli {

std::unique_ptr<Backend> make_backend(const std::string &command)
{
    const char *env = std::getenv("DMREMAPCTL_BACKEND");
    const std::string want = env ? env : "";
    if (!want.empty() && want != "direct" && want != "bus")
        throw UsageError(command + ": DMREMAPCTL_BACKEND='" + want + "' is neither 'direct' nor 'bus'");
    const bool direct = want.empty() ? ::geteuid() == 0 : want == "direct";
    if (direct)
        return std::make_unique<DirectBackend>();
#ifdef DMREMAP_WITH_DBUS
    return std::make_unique<BusBackend>();
#else
    throw Error(Error::Code::Failed, "needs root; this dmremapctl was built without D-Bus support");
#endif
}

} // namespace dmremap::cli
