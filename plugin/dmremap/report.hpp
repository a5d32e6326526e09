// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <string>
#include <vector>

namespace dmremap {

enum class Severity { Info, Warning, Error };
const char *severity_name(Severity s) noexcept;

// One finding. `code` is stable (documented in docs/FORMAT.md) so scripts
// and tests can match on it; `where` names the member and structure.
struct Problem {
    Severity severity = Severity::Error;
    std::string code;
    std::string where;
    std::string message;
};

class Report {
public:
    void add(Severity s, std::string code, std::string where, std::string message);
    void append(const Report &other);

    const std::vector<Problem> &problems() const { return problems_; }
    // Damage: anything a repair should look at (warnings and errors).
    bool damaged() const;
    bool has(const std::string &code) const;
    std::size_t count(Severity s) const;

private:
    std::vector<Problem> problems_;
};

} // namespace dmremap
