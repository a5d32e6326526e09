// SPDX-License-Identifier: LGPL-2.1-or-later
// C++ results as the C API's boxed structures. Callers convert only after
// every library call that can fail has returned, so an error never leaves
// a half-built list behind for the caller to free.
#pragma once

#include "bd_remap.h"

#include <discovery.hpp>
#include <remap_device.hpp>

#include <string>
#include <vector>

namespace dmremap::capi {

BDRemapSpare *to_c(const SpareStat &s);
BDRemapDeviceStatus *to_c(const DeviceStatus &s);
BDRemapEntry *to_c(const RemapEntryInfo &e);
BDRemapMember *to_c(const FoundMember &m);

// NULL-terminated array of converted elements, libblockdev's list form.
template <typename T> auto to_c_array(const std::vector<T> &items) -> decltype(to_c(items.front())) *
{
    using Elem = decltype(to_c(items.front()));
    Elem *out = g_new0(Elem, items.size() + 1);
    for (std::size_t i = 0; i < items.size(); i++)
        out[i] = to_c(items[i]);
    return out;
}

// A NULL-terminated string array; NULL is the empty list.
std::vector<std::string> from_strv(const gchar *const *strv);

} // namespace dmremap::capi
