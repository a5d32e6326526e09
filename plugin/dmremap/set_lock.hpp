// SPDX-License-Identifier: LGPL-2.1-or-later
// Serialises everything that activates or reloads one set, across
// processes: udev starts an assembly step for every member while an admin
// may run create or assemble, and two of them must never both load the
// set. An exclusive flock on /run/dm-remap/<set-uuid> (or
// $DM_REMAP_RUN_DIR/<set-uuid>), re-entrant within a process.
#pragma once

#include "state_store.hpp"
#include "uuid.hpp"

#include <filesystem>
#include <memory>

namespace dmremap {

class SetLock {
public:
    // Without `wait`, Error Busy when another process holds it.
    explicit SetLock(const Uuid &set, bool wait = true);
    ~SetLock();
    SetLock(const SetLock &) = delete;
    SetLock &operator=(const SetLock &) = delete;

    static std::filesystem::path run_dir();

    // Whether the set's last assembly step found it incomplete and nothing
    // has started it since: the one case the last-resort step may act on,
    // so that a set an admin stopped is not started again by a timer that
    // was still running. Kept in the lock's directory; only with the lock held.
    bool waiting() const;
    void set_waiting(bool waiting) const;
    // Whether the set has been active since boot (/run is empty at boot):
    // assembly steps start a set once per boot, as LVM's autoactivation
    // does, so that one an admin stopped stays stopped whatever uevents
    // come late. Marking it also ends any wait.
    bool started() const;
    void mark_started() const;

private:
    Uuid set_;
    std::unique_ptr<StateStore::Lock> lock_; // empty when this thread held it already
};

} // namespace dmremap
