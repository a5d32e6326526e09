// SPDX-License-Identifier: LGPL-2.1-or-later
// What the kernel target reports, as typed values: the status line
// (`dmsetup status`) and the text results of its messages, in the forms
// kernel/dm-remap.rst documents. Parsers throw Error(InvalidArgument)
// naming the token they could not read; unknown status keys are kept, as
// later target versions may add some.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dmremap {

struct SpareUse {
    std::uint16_t index = 0;
    bool missing = false;     // in the member table, absent (degraded)
    std::uint32_t used = 0;   // blocks in use or retired
    std::uint32_t total = 0;
    bool operator==(const SpareUse &) const = default;
};

// One member of the set's member table, from the status token `members=`.
enum class MemberHealth : std::uint8_t {
    Ok,
    Failed,  // left out of the set after a write or flush to it failed
    Missing, // absent from the table line (degraded start)
    Gone,    // its disk left the system: never from the kernel, which shows
             // it ok until I/O to it fails; RemapDevice::status, from sysfs
};
const char *member_health_name(MemberHealth h) noexcept;

struct MemberState {
    std::uint16_t index = 0;
    MemberHealth health = MemberHealth::Ok;
    bool operator==(const MemberState &) const = default;
};

struct TargetStatus {
    bool metadata_ok = true;  // false: a metadata write failed on some member
    std::uint32_t block_size = 0;
    std::uint64_t remapped = 0, pending = 0;
    std::uint64_t spare_used = 0, spare_total = 0;
    std::uint64_t read_errors = 0, write_errors = 0, remap_events = 0, healed = 0;
    bool exhausted = false, degraded = false;
    std::uint64_t unavailable = 0; // blocks on missing spares
    std::uint64_t seq = 0;
    std::vector<SpareUse> spares;
    std::vector<MemberState> members; // empty from a target without `members=`
    std::map<std::string, std::string> other; // keys this parser does not know

    std::size_t count(MemberHealth h) const;
};

// One line per member of the "spare_stats" message.
struct SpareStat {
    std::string device;       // major:minor, "-" when missing
    std::uint16_t index = 0;
    std::uint32_t total = 0;
    std::optional<std::uint32_t> used, free; // unknown for a missing member
    std::uint32_t live = 0;   // remapped blocks living on it
    std::string state;        // ok, failed, missing; "gone" (RemapDevice::spares): its disk left the system
    bool operator==(const SpareStat &) const = default;
};

// One line of the "list_remaps" message.
struct RemapEntryInfo {
    std::uint64_t block = 0;
    bool pending = false;
    std::uint16_t member = 0;      // when remapped
    std::uint32_t spare_block = 0; // when remapped
    bool on_missing = false;       // its spare member is missing
    bool lost = false;             // pending because its spare copy failed: only a write clears it
    bool operator==(const RemapEntryInfo &) const = default;
};

TargetStatus parse_status(std::string_view info);
std::vector<SpareStat> parse_spare_stats(std::string_view text);
std::vector<RemapEntryInfo> parse_list_remaps(std::string_view text);

} // namespace dmremap
