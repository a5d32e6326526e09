// SPDX-License-Identifier: GPL-2.0-or-later
// Where objects live on the bus. Device-mapper names may hold any byte but
// '/', so they are escaped the way the Device XML documents.
#pragma once

#include <cstdint>
#include <string>

namespace dmremap::daemon {

class ObjectPaths {
public:
    static constexpr const char *kBusName = "org.dmremap1";
    static constexpr const char *kRoot = "/org/dmremap1";
    static constexpr const char *kManager = "/org/dmremap1/Manager";

    // Bytes outside [A-Za-z0-9] as _XX (lower-case hex, as sd_bus_path_encode);
    // "" becomes "_" since an empty path element is not allowed.
    static std::string escape(const std::string &name);
    static std::string device(const std::string &name);
    static std::string job(std::uint64_t id);
};

} // namespace dmremap::daemon
