// SPDX-License-Identifier: LGPL-2.1-or-later
#include "options.hpp"

#include <error.hpp>
#include <validator.hpp>

#include <charconv>
#include <initializer_list>
#include <map>
#include <string>

namespace dmremap::capi {
namespace {

[[noreturn]] void refuse(const std::string &key, const std::string &value, const std::string &why)
{
    throw Error(Error::Code::InvalidArgument, "options: '" + key + "' = '" + value + "': " + why);
}

// The list as a map; refuses unknown keys and keys given twice.
class OptionList {
public:
    OptionList(const BDExtraArg *const *options, std::initializer_list<const char *> known)
    {
        for (auto o = options; o && *o; o++) {
            if (!(*o)->opt)
                throw Error(Error::Code::InvalidArgument, "options: an entry has no key (opt is NULL)");
            const std::string key = (*o)->opt;
            // bd_extra_arg_new() stores NULL as "", a hand-built entry may not.
            const std::string value = (*o)->val ? (*o)->val : "";
            bool is_known = false;
            std::string names;
            for (const char *k : known) {
                is_known = is_known || key == k;
                names += std::string(names.empty() ? "" : ", ") + k;
            }
            if (!is_known)
                refuse(key, value, "unknown key (known: " + names + ")");
            if (const auto seen = values_.find(key); seen != values_.end())
                refuse(key, value, "given twice (also as '" + seen->second + "')");
            values_[key] = value;
        }
    }

    const std::string *get(const std::string &key) const
    {
        const auto it = values_.find(key);
        return it == values_.end() ? nullptr : &it->second;
    }

    bool flag(const std::string &key) const
    {
        const std::string *v = get(key);
        if (!v)
            return false;
        if (*v == "" || *v == "true" || *v == "yes" || *v == "1")
            return true;
        if (*v == "false" || *v == "no" || *v == "0")
            return false;
        refuse(key, *v, "not a flag (\"\", true, yes, 1, false, no or 0)");
    }

    // Decimal digits only: no sign, no space, no suffix. `value` is what
    // the caller gave, for the message.
    template <typename T> static T number(const std::string &key, const std::string &text, const std::string &value)
    {
        T out{};
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
        if (text.empty() || ec == std::errc::invalid_argument || end != text.data() + text.size())
            refuse(key, value, "not a decimal number");
        if (ec == std::errc::result_out_of_range)
            refuse(key, value, "too large");
        return out;
    }

private:
    std::map<std::string, std::string> values_;
};

std::optional<Uuid> set_uuid(const OptionList &o)
{
    const std::string *text = o.get("uuid");
    if (!text)
        return std::nullopt;
    auto u = Uuid::parse(*text);
    if (!u || u->is_nil())
        refuse("uuid", *text, "not a set UUID (8-4-4-4-12 hex digits, not all zero)");
    return u;
}

} // namespace

CreateRequest create_request(const BDExtraArg *const *options)
{
    const OptionList o(options, {"name", "block-size", "internal-spare", "max-remaps", "uuid", "force"});
    CreateRequest r;
    FormatOptions &f = r.format;
    // One key at a time into options that passed the formatter's check
    // already, so a refusal of the check is this key's value.
    const auto apply = [&](const char *key, auto set) {
        const std::string *v = o.get(key);
        if (!v)
            return;
        set(*v);
        try {
            Formatter::check_options(f);
        } catch (const Error &e) {
            refuse(key, *v, e.what());
        }
    };
    apply("name", [&](const std::string &v) {
        // Empty would mean the default name to the formatter: not what was asked.
        if (v.empty())
            refuse("name", v, std::string("not a valid device name (") + validator::kNameRules + ")");
        f.name = v;
    });
    apply("block-size",
          [&](const std::string &v) { f.block_size = OptionList::number<std::uint32_t>("block-size", v, v); });
    apply("max-remaps",
          [&](const std::string &v) { f.max_entries = OptionList::number<std::uint32_t>("max-remaps", v, v); });
    apply("internal-spare", [&](const std::string &v) {
        if (!v.empty() && v.back() == '%') {
            const unsigned pct = OptionList::number<unsigned>("internal-spare", v.substr(0, v.size() - 1), v);
            // The formatter takes 0..50 on trust (FormatOptions says so);
            // more would leave the data device mostly spare.
            if (pct > 50)
                refuse("internal-spare", v, "more than 50%");
            f.internal_spare_percent = pct;
        } else {
            f.internal_spare = OptionList::number<std::uint64_t>("internal-spare", v, v);
        }
    });
    f.set_uuid = set_uuid(o);
    r.force = o.flag("force");
    return r;
}

AssembleRequest assemble_request(const BDExtraArg *const *options)
{
    const OptionList o(options, {"degraded", "name", "uuid"});
    AssembleRequest r;
    r.assemble.degraded = o.flag("degraded");
    if (const std::string *name = o.get("name")) {
        // The check SetManager::assemble makes, made before members are read.
        if (name->empty() || !validator::valid_name(*name))
            refuse("name", *name, std::string("not a valid device name (") + validator::kNameRules + ")");
        r.assemble.name = *name;
    }
    r.uuid = set_uuid(o);
    return r;
}

} // namespace dmremap::capi
