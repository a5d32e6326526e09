// SPDX-License-Identifier: LGPL-2.1-or-later
#include "types.hpp"

#include <dm-remap-format.h>

namespace dmremap {

const char *role_name(Role r) noexcept
{
    switch (r) {
    case Role::None: return "none";
    case Role::Data: return "data";
    case Role::Spare: return "spare";
    }
    return "unknown";
}

const char *state_name(EntryState s) noexcept
{
    switch (s) {
    case EntryState::Free: return "free";
    case EntryState::Remapped: return "remapped";
    case EntryState::Pending: return "pending";
    case EntryState::Retired: return "retired";
    }
    return "unknown";
}

bool Member::failed() const noexcept { return flags & DMR_MEMBER_F_FAILED; }

bool Entry::lost() const noexcept { return state == EntryState::Pending && spare_block == DMR_PENDING_LOST; }

} // namespace dmremap
