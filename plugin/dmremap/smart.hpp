// SPDX-License-Identifier: LGPL-2.1-or-later
// SMART values of a disk through smartctl's JSON output (smartmontools
// 7.x, `smartctl --json=c -H -A -i DEV`). Only what the health model uses:
// the overall assessment, ATA attributes 5, 187, 188, 197, 198 (raw) and
// NVMe media errors, available spare (and its threshold), percentage used.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace dmremap {

struct SmartReport {
    bool available = false;     // smartctl ran and the device answered SMART
    std::string device;         // the disk asked (a partition's whole disk)
    std::string protocol;       // "ATA", "NVMe", "SCSI", "" unknown
    std::string model, serial;
    std::optional<bool> passed; // smart_status.passed
    std::map<int, std::uint64_t> ata_raw; // id -> raw value, for 5,187,188,197,198 present
    std::optional<std::uint64_t> nvme_media_errors;
    std::optional<int> nvme_available_spare, nvme_available_spare_threshold, nvme_percentage_used;
    std::string error;          // why not available ("smartctl not installed", its message)

    // Values as HistorySample::smart names them, and back (available
    // when any value is there; model and serial are not kept).
    std::map<std::string, std::int64_t> values() const;
    static SmartReport from_values(const std::map<std::string, std::int64_t> &values);
};

// Parses smartctl's JSON; never throws: malformed input gives
// available=false and the reason in `error`.
SmartReport parse_smartctl_json(std::string_view json);

// Runs smartctl on the whole disk behind `device` (a partition or a
// device-mapper node resolves to nothing: available=false), with a 30 s
// bound. The binary: $DM_REMAP_SMARTCTL or smartctl from PATH. Never
// throws.
SmartReport read_smart(const std::string &device);

} // namespace dmremap
