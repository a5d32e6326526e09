// SPDX-License-Identifier: GPL-2.0-or-later
#include "journal.hpp"

#include <iostream>
#include <sys/uio.h>
#include <vector>

#include <systemd/sd-journal.h>

namespace dmremap::daemon {

const char *journal_message_id(JournalEvent e) noexcept
{
    // Also in dm-remap.catalog and docs/HEALTH.md: never change one.
    switch (e) {
    case JournalEvent::Remapped: return "6e12252d13634abaab8fda8f19a8920f";
    case JournalEvent::Pending: return "fee30858d45840948372038957f0e9fe";
    case JournalEvent::SpareThreshold: return "9bb1eb6048e24808aab6a901208b8224";
    case JournalEvent::SpareExhausted: return "622238b5946a406a96092eb61b325488";
    case JournalEvent::MemberFailed: return "d9559ca27a0148988ee43f1069f8c604";
    case JournalEvent::HealthChanged: return "16822e64e55c430aba4429703b200de4";
    case JournalEvent::ScanFinished: return "9222409bd81c4dbf9b716deb80eb5481";
    }
    return "00000000000000000000000000000000";
}

void journal(JournalEvent e, int priority, const std::string &device, const std::string &set_uuid,
             const std::string &message, const std::map<std::string, std::string> &fields) noexcept
{
    try {
        std::vector<std::string> lines = {
            std::string("MESSAGE_ID=") + journal_message_id(e),
            "PRIORITY=" + std::to_string(priority),
            "MESSAGE=" + device + ": " + message,
            "DM_REMAP_DEVICE=" + device,
        };
        if (!set_uuid.empty())
            lines.push_back("DM_REMAP_SET_UUID=" + set_uuid);
        for (const auto &[k, v] : fields)
            lines.push_back(k + "=" + v);
        std::vector<iovec> iov;
        for (auto &l : lines)
            iov.push_back({l.data(), l.size()});
        if (const int r = sd_journal_sendv(iov.data(), static_cast<int>(iov.size())); r < 0)
            std::cerr << "dm-remapd: " << device << ": " << message << "\n";
    } catch (...) {
    }
}

} // namespace dmremap::daemon
