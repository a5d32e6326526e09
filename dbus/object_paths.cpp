// SPDX-License-Identifier: GPL-2.0-or-later
#include "object_paths.hpp"

namespace dmremap::daemon {

std::string ObjectPaths::escape(const std::string &name)
{
    if (name.empty())
        return "_";
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : name) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            out += static_cast<char>(c);
        } else {
            out += '_';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string ObjectPaths::device(const std::string &name) { return std::string(kRoot) + "/devices/" + escape(name); }

std::string ObjectPaths::job(std::uint64_t id) { return std::string(kRoot) + "/jobs/" + std::to_string(id); }

} // namespace dmremap::daemon
