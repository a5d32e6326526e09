// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace dmremap::cli {

// Bad command line: exit code 2, message names the command and the argument.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct OptionSpec {
    std::string name;  // long name without "--"
    bool takes_value;
    char short_name = 0;
};

// Long options (--name VALUE, --name=VALUE), a few short flags, then positionals.
class Args {
public:
    Args(std::string command, const std::vector<OptionSpec> &spec, int argc, char **argv, int first);

    bool flag(const std::string &name) const { return values_.count(name) > 0; }
    std::optional<std::string> value(const std::string &name) const;
    const std::vector<std::string> &positional() const { return positional_; }
    const std::string &command() const { return command_; }

    // Positional count check with a message naming what is missing.
    void need(std::size_t min, std::size_t max, const std::string &what) const;

private:
    std::string command_;
    std::map<std::string, std::string> values_;
    std::vector<std::string> positional_;
};

} // namespace dmremap::cli
