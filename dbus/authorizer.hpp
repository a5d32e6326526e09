// SPDX-License-Identifier: GPL-2.0-or-later
// Who may change things: root always, anyone else when polkit says so.
// Used from the worker thread only, over a bus connection of its own: a
// blocking call on the serving connection from its own thread would wait
// for a reply that connection's loop is not there to read.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <sdbus-c++/IConnection.h>

namespace dmremap::daemon {

class Authorizer {
public:
    static constexpr const char *kManage = "org.dmremap1.manage";

    // The caller's uid (the bus daemon's word, not the caller's).
    std::uint32_t uid_of(const std::string &sender);
    // Returns the caller's uid when allowed; throws NotAuthorized otherwise,
    // also when polkit cannot be reached (failing closed).
    std::uint32_t authorize(const std::string &sender, const std::string &action, bool interactive);

private:
    sdbus::IConnection &bus();
    bool check_polkit(const std::string &sender, const std::string &action, bool interactive);

    std::unique_ptr<sdbus::IConnection> bus_;
};

} // namespace dmremap::daemon
