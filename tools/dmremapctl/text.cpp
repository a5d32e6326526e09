// SPDX-License-Identifier: GPL-2.0-or-later
#include "text.hpp"

#include <cmath>
#include <cstdio>

namespace dmremap::cli {

std::optional<std::uint64_t> parse_uint(const std::string &s)
{
    if (s.empty() || s.size() > 20)
        return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return std::nullopt;
        if (v > (UINT64_MAX - 9) / 10)
            return std::nullopt;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    return v;
}

std::optional<std::uint64_t> parse_size(const std::string &s)
{
    std::size_t i = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
        i++;
    const std::string number = s.substr(0, i), unit = s.substr(i);
    if (number.empty() || number.front() == '.' || number.find('.') != number.rfind('.'))
        return std::nullopt;
    static const struct {
        const char *names[4];
        int shift;
    } units[] = {{{"", "B", nullptr, nullptr}, 0},
                 {{"K", "k", "KiB", "KB"}, 10},
                 {{"M", "m", "MiB", "MB"}, 20},
                 {{"G", "g", "GiB", "GB"}, 30},
                 {{"T", "t", "TiB", "TB"}, 40}};
    for (const auto &u : units)
        for (const char *n : u.names)
            if (n && unit == n) {
                if (number.find('.') == std::string::npos) {
                    auto v = parse_uint(number);
                    if (!v || (u.shift && *v > (UINT64_MAX >> u.shift)))
                        return std::nullopt;
                    return *v << u.shift;
                }
                double d = std::strtod(number.c_str(), nullptr) * std::ldexp(1.0, u.shift);
                if (!(d >= 0) || d >= 1.8e19)
                    return std::nullopt;
                return static_cast<std::uint64_t>(d);
            }
    return std::nullopt;
}

std::string human_size(std::uint64_t bytes)
{
    static const char *names[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    char buf[64];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
    else
        std::snprintf(buf, sizeof buf, "%.1f %s", v, names[u]);
    return buf;
}

} // namespace dmremap::cli
