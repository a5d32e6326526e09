// SPDX-License-Identifier: LGPL-2.1-or-later
// Online replacement of a set's data disk (dmremapctl replace,
// docs/REPLACE.md): a new set on the new disk, the logical contents copied
// by the kernel's dm-mirror under table switches of /dev/mapper/NAME, then
// one switch to the new set. The device stays open and in use throughout;
// until the switch the old disk holds every write.
#pragma once

#include "set_lock.hpp"
#include "uuid.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dmremap {

struct ReplaceOptions {
    bool force = false;                          // the new disk may hold a signature (it is overwritten)
    std::optional<std::uint64_t> internal_spare; // bytes; default: the format's policy
    std::uint64_t window_sectors = 0;            // copied per table switch; 0: data length / 16, 32 MiB..4 GiB
    // Spares of the new set, added after the switch. keep_spares: the old
    // set's spare devices leave it (their superblocks erased) and join the
    // new one; `spares`: further devices, checked like NEWDEV before the
    // copy starts. The default, neither: the old set stays whole.
    bool keep_spares = false;
    std::vector<std::string> spares;
    bool resuming = false; // set by resume(): refuses an unfinished disk that a later replace overtook
};

struct ReplaceProgress {
    std::uint64_t done = 0, total = 0; // sectors of the data length
    std::string phase;                 // "reading" ahead of the copy, "copying", "switching"
};

struct ReplaceResult {
    std::string name;
    Uuid set_uuid;
    std::string old_device, new_device;
    std::uint64_t data_bytes = 0;
    std::vector<std::uint64_t> pending; // blocks pending in the new set: those pending in the old one
    std::vector<std::string> spares;    // spare devices added to the new set after the switch
    std::vector<std::string> spare_errors; // spares that could not be added (the replace itself stands)
    unsigned windows = 0;               // parts copied, one table switch each
    unsigned recopied = 0;              // parts copied again after the old disk failed a read
    double seconds = 0;
};

class Replacer {
public:
    using Progress = std::function<void(const ReplaceProgress &)>;

    // Replaces the data disk of the active device `name` by `new_device`.
    // Refuses, before anything is written: a device that is not an active
    // set (or is suspended, read-only, started by hand), a replace already
    // running, and a new disk that is mounted, in use, a member of any set
    // (but the unfinished new disk of this set's own replace), holds a
    // signature (unless force), lies on the device itself or is too small.
    // `cancel` (polled) stops the copy and puts the old disk back.
    // Failures after the start put the old disk back too and throw an Error
    // that says so.
    static ReplaceResult replace(const std::string &name, const std::string &new_device, const ReplaceOptions &opts,
                                 const Progress &progress = {}, const std::atomic<bool> *cancel = nullptr);

    // Goes on with a replace of `set` that a power cut or crash stopped
    // (its new disk still REPLACING): waits up to `wait` for the set to
    // run from its old disk, then copies again. nullopt: no such disk.
    static std::optional<ReplaceResult> resume(const Uuid &set, std::chrono::seconds wait, const ReplaceOptions &opts,
                                               const Progress &progress = {},
                                               const std::atomic<bool> *cancel = nullptr);

    // The hidden device that runs the old disk's set while the copy runs.
    static std::string source_name(const Uuid &set);
    static constexpr const char *kSourceUuidPrefix = "REMAPSRC-"; // Discovery skips it

    // Takes the set's lock, unless a replace of the set holds it while the
    // set runs: a replace holds it for its whole copy, which may take hours,
    // and an assembly step or an assemble of a running set has nothing to do
    // meanwhile. Then returns the name the set runs as, `lock` left empty.
    static std::string lock_unless_replacing(const Uuid &set, std::optional<SetLock> &lock);
};

} // namespace dmremap
