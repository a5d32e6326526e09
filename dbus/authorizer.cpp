// SPDX-License-Identifier: GPL-2.0-or-later
#include "authorizer.hpp"

#include "error_translator.hpp"

#include <chrono>
#include <iostream>
#include <map>

#include <sdbus-c++/IProxy.h>

namespace dmremap::daemon {
namespace {

// An interactive check waits for a person typing a password in an agent;
// a non-interactive one should answer at once.
constexpr auto kInteractiveTimeout = std::chrono::minutes(5);
constexpr auto kQuickTimeout = std::chrono::seconds(25);

} // namespace

sdbus::IConnection &Authorizer::bus()
{
    if (!bus_)
        bus_ = sdbus::createSystemBusConnection();
    return *bus_;
}

std::uint32_t Authorizer::uid_of(const std::string &sender)
{
    try {
        auto proxy = sdbus::createProxy(bus(), "org.freedesktop.DBus", "/org/freedesktop/DBus");
        std::uint32_t uid = 0;
        proxy->callMethod("GetConnectionUnixUser")
            .onInterface("org.freedesktop.DBus")
            .withArguments(sender)
            .storeResultsTo(uid);
        return uid;
    } catch (const sdbus::Error &e) {
        // A broken connection stays broken: make a new one next time.
        bus_.reset();
        throw ErrorTranslator::not_authorized("cannot identify the caller " + sender + ": " + e.getMessage());
    }
}

bool Authorizer::check_polkit(const std::string &sender, const std::string &action, bool interactive)
{
    using Subject = sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>>;
    using Result = sdbus::Struct<bool, bool, std::map<std::string, std::string>>;
    const Subject subject{"system-bus-name", {{"name", sdbus::Variant(sender)}}};
    const std::map<std::string, std::string> details;
    const std::uint32_t flags = interactive ? 1 : 0; // AllowUserInteraction
    Result result;
    auto proxy = sdbus::createProxy(bus(), "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority");
    proxy->callMethod("CheckAuthorization")
        .onInterface("org.freedesktop.PolicyKit1.Authority")
        .withTimeout(interactive ? std::chrono::duration_cast<std::chrono::microseconds>(kInteractiveTimeout)
                                 : std::chrono::duration_cast<std::chrono::microseconds>(kQuickTimeout))
        .withArguments(subject, action, details, flags, std::string())
        .storeResultsTo(result);
    return std::get<0>(result);
}

std::uint32_t Authorizer::authorize(const std::string &sender, const std::string &action, bool interactive)
{
    const std::uint32_t uid = uid_of(sender);
    if (uid == 0)
        return uid;
    bool allowed = false;
    try {
        allowed = check_polkit(sender, action, interactive);
    } catch (const sdbus::Error &e) {
        bus_.reset();
        std::cerr << "dm-remapd: polkit check for uid " << uid << " failed: " << e.getName() << ": "
                  << e.getMessage() << "\n";
        throw ErrorTranslator::not_authorized(action + ": cannot check authorization (polkit: " + e.getMessage() +
                                              ")");
    }
    if (!allowed)
        throw ErrorTranslator::not_authorized(action + ": not authorized for uid " + std::to_string(uid));
    return uid;
}

} // namespace dmremap::daemon
