// SPDX-License-Identifier: GPL-2.0-or-later
// org.dmremap1.Manager: sets as a whole (create, assemble) and members.
#pragma once

#include "async_reply.hpp"
#include "manager_adaptor.h"

#include <sdbus-c++/sdbus-c++.h>

namespace dmremap::daemon {

class Daemon;

class ManagerObject final
    : public sdbus::AdaptorInterfaces<org::dmremap1::Manager_adaptor, sdbus::ManagedObject_adaptor> {
public:
    ManagerObject(Daemon &daemon, sdbus::IConnection &connection);
    ~ManagerObject();

private:
    using Dict = std::map<std::string, sdbus::Variant>;

    void Create(sdbus::Result<sdbus::ObjectPath, Dict> &&result, std::vector<std::string> devices,
                Dict options) override;
    void Assemble(sdbus::Result<sdbus::ObjectPath, Dict> &&result, std::vector<std::string> members,
                  Dict options) override;
    void AssembleAll(sdbus::Result<std::vector<Dict>> &&result, Dict options) override;
    void ListMembers(sdbus::Result<std::vector<Dict>> &&result, Dict options) override;
    void Probe(sdbus::Result<Dict> &&result, std::string device, Dict options) override;
    std::string Version() override;

    // A device call's place: the pool, with the daemon's I/O deadline.
    Placement io(const std::string &what);


    Daemon &daemon_;
};

} // namespace dmremap::daemon
