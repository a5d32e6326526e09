// SPDX-License-Identifier: LGPL-2.1-or-later
// Sets as a whole: format, create (format + activate), assemble (activate
// existing members), the table line. Every refusal happens before the
// first byte is written.
#pragma once

#include "checker.hpp"
#include "discovery.hpp"
#include "dm_control.hpp"
#include "formatter.hpp"

#include <optional>
#include <string>
#include <vector>

namespace dmremap {

struct AssembleOptions {
    bool degraded = false; // start without missing spares
    std::string name;      // device name; empty: the set's name
    // udev has probed every member that is there (a step started by its
    // uevent): no sweep of every disk's superblocks for missing ones.
    bool incremental = false;
};

struct AssembledSet {
    std::string name;
    Uuid set_uuid;
    std::vector<std::string> members;  // device nodes, data member first
    std::vector<std::uint16_t> missing; // spare indices started without
    std::vector<std::uint16_t> failed;  // spare indices left out: failed while the set ran
    std::vector<std::string> attached;  // loop devices set up for image members
    std::vector<std::string> refused;   // why recorded images were not attached ("spare member N: ...")
    bool already_active = false;
};

struct CreateResult {
    std::string name; // the device-mapper name: /dev/mapper/NAME
    FormatPlan plan;
};

struct AssembleAllResult {
    std::string set_name;
    Uuid set_uuid;
    std::optional<AssembledSet> set; // absent: `error` says why it did not start
    std::string error;
};

class SetManager {
public:
    // Refuses (Error naming the device) a device that is mounted or in use
    // (always), holds a signature or belongs to a set (unless `force`),
    // is given twice, or is too small; then writes the set.
    static FormatPlan format(const std::vector<std::string> &paths, const FormatOptions &opts, bool force);

    // The target line for members given in any order, data member
    // included; refuses an ambiguous or incomplete set (a missing spare
    // only with `degraded`).
    static DmTarget table(const std::vector<std::string> &paths, bool degraded = false);
    // The same from members already read (SetView::members[i].path is the
    // device put in the line): spares the member table marks failed are
    // left out, given or not.
    static DmTarget table(const SetView &v, bool degraded = false);

    // What create refuses without opening a member: bad options, a name
    // in use, a given UUID that an active set carries. With `paths` (the
    // devices to format; privileged callers only: it reads devices udev
    // has no record of), also a given UUID that another device carries.
    static void check_create(const FormatOptions &opts, const std::vector<std::string> &paths = {});
    // check_create, format + activate under the set's name.
    static CreateResult create(const std::vector<std::string> &paths, const FormatOptions &opts, bool force);

    // Activates the set the given members belong to; members not given are
    // looked up (udev, then superblocks) and image members are attached.
    static AssembledSet assemble(const std::vector<std::string> &members, const AssembleOptions &opts);
    static AssembledSet assemble(const Uuid &set_uuid, const AssembleOptions &opts);
    // Every set with a data member present and not yet active. A set that
    // fails does not stop the others: its error is returned with it.
    static std::vector<AssembleAllResult> assemble_all(const AssembleOptions &opts);
};

} // namespace dmremap
