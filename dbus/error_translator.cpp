// SPDX-License-Identifier: GPL-2.0-or-later
#include "error_translator.hpp"

#include <error.hpp>

#include <cerrno>
#include <string_view>

namespace dmremap::daemon {
namespace {

std::string name_of(Error::Code code)
{
    switch (code) {
    case Error::Code::InvalidArgument: return "InvalidArgument";
    case Error::Code::NotFound: return "NotFound";
    case Error::Code::Busy: return "Busy";
    case Error::Code::Exists: return "AlreadyExists";
    case Error::Code::NoSpace: return "NoSpace";
    case Error::Code::Io: return "Io";
    case Error::Code::Corrupt: return "Corrupt";
    case Error::Code::Failed: return "Failed";
    }
    return "Failed";
}

sdbus::Error make(const std::string &name, const std::string &message)
{
    return sdbus::Error(ErrorTranslator::kPrefix + name, message);
}

} // namespace

sdbus::Error ErrorTranslator::not_authorized(const std::string &message) { return make("NotAuthorized", message); }

sdbus::Error ErrorTranslator::cancelled(const std::string &message) { return make("Cancelled", message); }

sdbus::Error ErrorTranslator::timed_out(const std::string &what, std::chrono::milliseconds timeout)
{
    return make("TimedOut", what + ": no answer within " + std::to_string(timeout.count() / 1000) +
                                " s: a device does not complete its I/O (or every thread of the service waits "
                                "for one that does not). The call is given up on, not undone: if it started, "
                                "it may still finish (the device's properties will show it)");
}

sdbus::Error ErrorTranslator::translate_canceled(std::exception_ptr error,
                                                const std::function<bool()> &spares_exhausted)
{
    try {
        std::rethrow_exception(error);
    } catch (const Error &e) {
        // Only what a suspend does to the work: EINTR (interrupted inside
        // the message), EBUSY (the message refused on a suspended device)
        // or the library's own "is suspended" look before it. Any other
        // Busy (EROFS: a read-only table, ...) keeps its own name.
        const bool suspended_look =
            e.sys_errno() == 0 && std::string_view(e.what()).find(": is suspended") != std::string_view::npos;
        if (e.sys_errno() == EINTR || (e.code() == Error::Code::Busy && (e.sys_errno() == EBUSY || suspended_look)))
            return cancelled(std::string("canceled: ") + e.what());
    } catch (...) {
    }
    return translate(error, spares_exhausted);
}

sdbus::Error ErrorTranslator::translate(std::exception_ptr error, const std::function<bool()> &spares_exhausted)
{
    try {
        std::rethrow_exception(error);
    } catch (const Error &e) {
        if (e.code() == Error::Code::NoSpace && e.sys_errno() == ENOSPC && spares_exhausted) {
            bool exhausted = false;
            try {
                exhausted = spares_exhausted();
            } catch (...) {
                // The device went away meanwhile: plain NoSpace is still true.
            }
            if (exhausted)
                return make("SpareExhausted", e.what());
        }
        return make(name_of(e.code()), e.what());
    } catch (const sdbus::Error &e) {
        // Ours pass through; a library or bus failure says nothing a client
        // could act on beyond "it failed".
        if (e.getName().rfind(kPrefix, 0) == 0)
            return e;
        return make("Failed", e.getName() + ": " + e.getMessage());
    } catch (const std::exception &e) {
        return make("Failed", e.what());
    } catch (...) {
        return make("Failed", "internal error");
    }
}

} // namespace dmremap::daemon
