// SPDX-License-Identifier: LGPL-2.1-or-later
// The JSON form of a set (dmremapctl dump --json) and its inverse, which
// restore uses. The keys are a stable interface: docs/FORMAT.md lists them.
#pragma once

#include "checker.hpp"
#include "remap_state.hpp"
#include "types.hpp"

#include <nlohmann/json.hpp>

namespace dmremap {

struct SetDescription {
    Superblock common;         // set-wide superblock fields (role/index/uuid unset)
    RemapState state;
};

class SetJson {
public:
    // `member` is the member dumped (its superblock); state may be absent.
    static nlohmann::json dump(const SetView &view, std::size_t member);
    static nlohmann::json problems(const Report &report);
    // Parses and validates a dump; throws Error(InvalidArgument) naming the key.
    static SetDescription parse(const nlohmann::json &j);
    // The superblock a member of `d` gets (copy 0).
    static Superblock superblock_for(const SetDescription &d, const Member &m);
};

} // namespace dmremap
