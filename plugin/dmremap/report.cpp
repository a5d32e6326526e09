// SPDX-License-Identifier: LGPL-2.1-or-later
#include "report.hpp"

#include <algorithm>

namespace dmremap {

const char *severity_name(Severity s) noexcept
{
    switch (s) {
    case Severity::Info: return "info";
    case Severity::Warning: return "warning";
    case Severity::Error: return "error";
    }
    return "error";
}

void Report::add(Severity s, std::string code, std::string where, std::string message)
{
    problems_.push_back({s, std::move(code), std::move(where), std::move(message)});
}

void Report::append(const Report &other)
{
    problems_.insert(problems_.end(), other.problems_.begin(), other.problems_.end());
}

bool Report::damaged() const
{
    return std::any_of(problems_.begin(), problems_.end(),
                       [](const Problem &p) { return p.severity != Severity::Info; });
}

bool Report::has(const std::string &code) const
{
    return std::any_of(problems_.begin(), problems_.end(),
                       [&](const Problem &p) { return p.code == code; });
}

std::size_t Report::count(Severity s) const
{
    return static_cast<std::size_t>(std::count_if(
        problems_.begin(), problems_.end(), [&](const Problem &p) { return p.severity == s; }));
}

} // namespace dmremap
