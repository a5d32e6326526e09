// SPDX-License-Identifier: GPL-2.0-or-later
// One value of an a{sv} the daemon returned, as the type this dmremapctl
// expects; a missing key or another type is the daemon's fault, said so.
#pragma once

#include <error.hpp>

#include <map>
#include <string>

#include <sdbus-c++/sdbus-c++.h>

namespace dmremap::cli {

template <typename T> T prop(const std::map<std::string, sdbus::Variant> &d, const std::string &key)
{
    const auto it = d.find(key);
    if (it == d.end())
        throw Error(Error::Code::Failed, "dm-remapd: no '" + key + "' (a daemon older than this dmremapctl?)");
    try {
        return it->second.get<T>();
    } catch (const sdbus::Error &) {
        throw Error(Error::Code::Failed, "dm-remapd: '" + key + "' has an unexpected type");
    }
}

} // namespace dmremap::cli
