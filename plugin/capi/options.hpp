// SPDX-License-Identifier: LGPL-2.1-or-later
// The options of bd_remap_create_full and bd_remap_assemble_full: libblockdev's
// key/value BDExtraArg list read into the core's option structures. Every
// refusal is Error(InvalidArgument) naming the key and the value, and
// happens before any device is looked at.
#pragma once

#include "bd_remap.h"

#include <formatter.hpp>
#include <set_manager.hpp>

#include <optional>

namespace dmremap::capi {

struct CreateRequest {
    FormatOptions format;
    bool force = false;
};

struct AssembleRequest {
    AssembleOptions assemble;
    std::optional<Uuid> uuid; // the set to start when no member is given
};

// Keys: name, block-size, internal-spare (bytes or "N%"), max-remaps, uuid,
// force. Checked with the formatter's own option checks; a UUID or name in
// use is for SetManager::create to find.
CreateRequest create_request(const BDExtraArg *const *options);
// Keys: degraded, name, uuid.
AssembleRequest assemble_request(const BDExtraArg *const *options);

} // namespace dmremap::capi
