// SPDX-License-Identifier: GPL-2.0-or-later
// The a{sv} every method takes. Unknown keys and wrong types are refused
// (InvalidArgument naming the key) rather than ignored: a client asking
// for something this version does not do should hear so, not get a
// different operation than it asked for.
#pragma once

#include <error.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sdbus-c++/Types.h>

namespace dmremap::daemon {

class Options {
public:
    struct Key {
        std::string name;
        std::string signature; // D-Bus type of the value, e.g. "b", "s", "t"
    };

    // Every method also accepts "auth.no_user_interaction" (b).
    Options(const std::map<std::string, sdbus::Variant> &raw, const std::vector<Key> &allowed);

    template <typename T> std::optional<T> get(const std::string &key) const
    {
        const auto it = raw_.find(key);
        if (it == raw_.end())
            return std::nullopt;
        return it->second.get<T>();
    }
    bool flag(const std::string &key) const { return get<bool>(key).value_or(false); }
    // polkit may ask the user for a password (AllowUserInteraction).
    bool interactive() const { return !flag("auth.no_user_interaction"); }

private:
    std::map<std::string, sdbus::Variant> raw_;
};

} // namespace dmremap::daemon
