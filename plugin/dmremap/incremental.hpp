// SPDX-License-Identifier: LGPL-2.1-or-later
// Assembly one member at a time, as udev finds them at boot or hot-plug
// (docs/BOOT.md): each step starts the set once it is complete, attaches
// a spare that came back to the running device, or says what the set
// still waits for. The last-resort step ends the wait: without the
// missing spares (when allowed), never without the data member.
#pragma once

#include "set_manager.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dmremap {

struct IncrementalStep {
    enum class Outcome {
        Started,         // complete, activated
        StartedDegraded, // last resort: activated without the missing spares
        Active,          // running already; `rejoined` lists spares attached now
        Waiting,         // incomplete; `missing` says what for
        LeftAlone,       // ran in this boot and was stopped since, or (last resort) not waiting
    };
    Uuid set_uuid;
    std::string set_name;
    Outcome outcome = Outcome::Waiting;
    std::optional<AssembledSet> set;     // Started, StartedDegraded
    std::string device;                  // dm name when running
    std::vector<std::uint16_t> rejoined; // spare indices attached to the running device
    std::vector<std::string> refused;    // "spare member N (image PATH) refused: WHY"
    std::string missing;                 // what is missing, naming the member (Waiting, StartedDegraded)
    std::string error;                   // step_all: why this set's step failed
};

class Incremental {
public:
    // One step for `set`, serialised with every other step, create and
    // assemble of it by its SetLock. With `last_resort`, an incomplete set starts
    // degraded if `degraded` allows, and is otherwise refused: NotFound
    // naming the missing member (always when it is the data member).
    static IncrementalStep step(const Uuid &set, bool last_resort, bool degraded);
    // A step for every set with a member present (image spares whose
    // filesystem was mounted late).
    static std::vector<IncrementalStep> step_all();

    // Attaches the spares of the running device `name` that its table
    // left out as missing and that are present now (image spares are set
    // up as loop devices): one table reload. Returns their indices.
    // Recorded images not attached, and why, go to `refused`.
    static std::vector<std::uint16_t> rejoin(const std::string &name, const Uuid &set,
                                             std::vector<std::string> &refused);
};

const char *outcome_name(IncrementalStep::Outcome o) noexcept;

} // namespace dmremap
