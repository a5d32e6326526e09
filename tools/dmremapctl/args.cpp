// SPDX-License-Identifier: GPL-2.0-or-later
#include "args.hpp"

namespace dmremap::cli {

Args::Args(std::string command, const std::vector<OptionSpec> &spec, int argc, char **argv, int first)
    : command_(std::move(command))
{
    bool options_done = false;
    for (int i = first; i < argc; i++) {
        std::string a = argv[i];
        if (options_done || a.size() < 2 || a[0] != '-') {
            positional_.push_back(a);
            continue;
        }
        if (a == "--") {
            options_done = true;
            continue;
        }
        const OptionSpec *match = nullptr;
        std::string value;
        bool has_inline = false;
        if (a.rfind("--", 0) == 0) {
            std::string name = a.substr(2);
            if (auto eq = name.find('='); eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
                has_inline = true;
            }
            for (const auto &s : spec)
                if (s.name == name)
                    match = &s;
        } else if (a.size() == 2) {
            for (const auto &s : spec)
                if (s.short_name == a[1])
                    match = &s;
        }
        if (!match)
            throw UsageError(command_ + ": unknown option '" + a + "'");
        if (match->takes_value) {
            if (!has_inline) {
                if (i + 1 >= argc)
                    throw UsageError(command_ + ": option '--" + match->name + "' needs a value");
                value = argv[++i];
            }
        } else if (has_inline) {
            throw UsageError(command_ + ": option '--" + match->name + "' takes no value");
        }
        if (values_.count(match->name) && match->takes_value)
            throw UsageError(command_ + ": option '--" + match->name + "' given twice");
        values_[match->name] = value;
    }
}

std::optional<std::string> Args::value(const std::string &name) const
{
    auto it = values_.find(name);
    if (it == values_.end())
        return std::nullopt;
    return it->second;
}

void Args::need(std::size_t min, std::size_t max, const std::string &what) const
{
    if (positional_.size() < min)
        throw UsageError(command_ + ": missing " + what);
    if (positional_.size() > max)
        throw UsageError(command_ + ": unexpected argument '" + positional_[max] + "'");
}

} // namespace dmremap::cli
