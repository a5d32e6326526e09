// SPDX-License-Identifier: GPL-2.0-or-later
// Structured journal entries for what happens to a device, one MESSAGE_ID
// per kind of event, so `journalctl MESSAGE_ID=...` finds them and
// `journalctl -x` explains them from dm-remap.catalog (installed to the
// catalog directory). Every entry carries DM_REMAP_DEVICE and
// DM_REMAP_SET_UUID.
#pragma once

#include <map>
#include <string>

namespace dmremap::daemon {

enum class JournalEvent {
    Remapped,       // blocks moved to spares
    Pending,        // blocks the disk cannot read, now pending
    SpareThreshold, // spare use crossed 80% or 95%
    SpareExhausted, // no spare block left
    MemberFailed,   // a spare device failed and was left out
    HealthChanged,  // the health state changed
    ScanFinished,   // a scan pass completed
};

// The 128-bit id as journalctl shows it (32 hex digits).
const char *journal_message_id(JournalEvent e) noexcept;

// Never throws: a journal that is not there loses the entry, not the daemon.
// `priority`: syslog level (2 crit ... 6 info).
void journal(JournalEvent e, int priority, const std::string &device, const std::string &set_uuid,
             const std::string &message, const std::map<std::string, std::string> &fields = {}) noexcept;

} // namespace dmremap::daemon
