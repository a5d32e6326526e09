// SPDX-License-Identifier: LGPL-2.1-or-later
// Serialises everything that activates or reloads one set, across
// processes: udev starts an assembly step for every member while an admin
// may run create or assemble, and two of them must never both load the
// set. An exclusive flock on /run/dm-remap/<set-uuid> (or
// $DM_REMAP_RUN_DIR/<set-uuid>), re-entrant within a process.
#pragma once

#include "uuid.hpp"

#include <filesystem>

namespace dmremap {

class SetLock {
public:
    explicit SetLock(const Uuid &set);
    ~SetLock();
    SetLock(const SetLock &) = delete;
    SetLock &operator=(const SetLock &) = delete;

    static std::filesystem::path run_dir();

private:
    Uuid set_;
    int fd_ = -1; // -1 when this process held it already
};

} // namespace dmremap
