// SPDX-License-Identifier: LGPL-2.1-or-later
// Members found on block devices and image files, active or not.
#include "convert.hpp"
#include "guard.hpp"

#include <discovery.hpp>

using namespace dmremap;
using namespace dmremap::capi;

extern "C" {

BDRemapMember *bd_remap_probe(const gchar *dev, GError **error)
{
    // "Not a member" is an answer, not a failure: NULL with *error unset,
    // so callers tell it from an unreadable device by the GError.
    return guard(error, [&]() -> BDRemapMember * {
        const auto m = Discovery::probe(require(dev, "dev"));
        return m ? to_c(*m) : nullptr;
    });
}

BDRemapMember **bd_remap_find_members(GError **error)
{
    return guard(error, [&] { return to_c_array(Discovery::members()); });
}

} // extern "C"
