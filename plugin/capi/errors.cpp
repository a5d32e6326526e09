// SPDX-License-Identifier: LGPL-2.1-or-later
#include "guard.hpp"

#include <exception>

extern "C" GQuark bd_remap_error_quark(void)
{
    return g_quark_from_static_string("g-bd-remap-error-quark");
}

namespace dmremap::capi {

BDRemapError error_code(Error::Code code) noexcept
{
    switch (code) {
    case Error::Code::Failed: return BD_REMAP_ERROR_FAILED;
    case Error::Code::InvalidArgument: return BD_REMAP_ERROR_INVAL;
    case Error::Code::NotFound: return BD_REMAP_ERROR_NOT_FOUND;
    case Error::Code::Io: return BD_REMAP_ERROR_IO;
    case Error::Code::Busy: return BD_REMAP_ERROR_BUSY;
    case Error::Code::Exists: return BD_REMAP_ERROR_EXISTS;
    case Error::Code::Corrupt: return BD_REMAP_ERROR_CORRUPT;
    case Error::Code::NoSpace: return BD_REMAP_ERROR_NO_SPACE;
    }
    return BD_REMAP_ERROR_FAILED;
}

void set_error_from_current(GError **error) noexcept
{
    // The library's messages already name the device and the cause, so the
    // C side gets them verbatim; only foreign exceptions get a prefix, as
    // they are bugs rather than conditions of the system.
    try {
        throw;
    } catch (const Error &e) {
        g_set_error_literal(error, BD_REMAP_ERROR, error_code(e.code()), e.what());
    } catch (const TechUnavailable &e) {
        g_set_error_literal(error, BD_REMAP_ERROR, BD_REMAP_ERROR_TECH_UNAVAIL, e.what());
    } catch (const std::exception &e) {
        g_set_error(error, BD_REMAP_ERROR, BD_REMAP_ERROR_FAILED, "internal error: %s", e.what());
    } catch (...) {
        g_set_error_literal(error, BD_REMAP_ERROR, BD_REMAP_ERROR_FAILED, "internal error: unknown exception");
    }
}

const char *require(const char *value, const char *arg)
{
    if (!value)
        throw Error(Error::Code::InvalidArgument, std::string(arg) + ": required argument is NULL");
    return value;
}

const gchar *const *require_strv(const gchar *const *value, const char *arg)
{
    if (!value)
        throw Error(Error::Code::InvalidArgument, std::string(arg) + ": required argument is NULL");
    if (!*value)
        throw Error(Error::Code::InvalidArgument, std::string(arg) + ": required list is empty");
    return value;
}

} // namespace dmremap::capi
