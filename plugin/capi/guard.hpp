// SPDX-License-Identifier: LGPL-2.1-or-later
// The C boundary of libbd_remap: C++ exceptions become GErrors here and
// nowhere else, so every exported function has the same error behaviour
// and nothing unwinds into a C caller.
#pragma once

#include "bd_remap.h"

#include <error.hpp>

#include <stdexcept>
#include <string>
#include <utility>

namespace dmremap::capi {

// A missing prerequisite (device-mapper control, the kernel target). Not a
// dmremap::Error code: only the C API's tech query reports it.
class TechUnavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

BDRemapError error_code(Error::Code code) noexcept;

// Sets *error from the exception being handled; only valid inside a catch.
void set_error_from_current(GError **error) noexcept;

// Runs `fn`; on an exception sets *error and returns the zero value of its
// result type (FALSE or NULL), which is libblockdev's failure convention.
template <typename Fn> auto guard(GError **error, Fn &&fn) noexcept -> decltype(std::forward<Fn>(fn)())
{
    try {
        return std::forward<Fn>(fn)();
    } catch (...) {
        set_error_from_current(error);
        return {};
    }
}

// A required argument; NULL throws Error(InvalidArgument) naming it.
const char *require(const char *value, const char *arg);
// A required NULL-terminated list; NULL or empty throws the same way.
const gchar *const *require_strv(const gchar *const *value, const char *arg);

} // namespace dmremap::capi
