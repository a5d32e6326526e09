// SPDX-License-Identifier: GPL-2.0-or-later
#include "options.hpp"

namespace dmremap::daemon {

Options::Options(const std::map<std::string, sdbus::Variant> &raw, const std::vector<Key> &allowed) : raw_(raw)
{
    for (const auto &[key, value] : raw_) {
        std::string want;
        if (key == "auth.no_user_interaction") {
            want = "b";
        } else {
            for (const auto &k : allowed)
                if (k.name == key)
                    want = k.signature;
        }
        if (want.empty())
            throw Error(Error::Code::InvalidArgument, "options: unknown option '" + key + "'");
        const std::string got = value.isEmpty() ? "" : value.peekValueType();
        if (got != want)
            throw Error(Error::Code::InvalidArgument,
                        "options: '" + key + "' must be of type '" + want + "', not '" + got + "'");
    }
}

} // namespace dmremap::daemon
