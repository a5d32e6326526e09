// SPDX-License-Identifier: GPL-2.0-or-later
// org.freedesktop.DBus.ObjectManager at /org/dmremap1: one GetManagedObjects
// gives a client the manager, every device and every job, and it sends
// InterfacesAdded/Removed for the objects below it.
#pragma once

#include "object_paths.hpp"

#include <sdbus-c++/sdbus-c++.h>

namespace dmremap::daemon {

class RootObject final : public sdbus::AdaptorInterfaces<sdbus::ObjectManager_adaptor> {
public:
    explicit RootObject(sdbus::IConnection &connection) : AdaptorInterfaces(connection, ObjectPaths::kRoot)
    {
        registerAdaptor();
    }
    ~RootObject() { unregisterAdaptor(); }
};

} // namespace dmremap::daemon
