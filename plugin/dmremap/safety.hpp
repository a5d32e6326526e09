// SPDX-License-Identifier: LGPL-2.1-or-later
// Refusals before anything is written to a device: mounted, in use,
// holding a filesystem/partition table/RAID signature.
#pragma once

#include <string>
#include <vector>

namespace dmremap {

class Safety {
public:
    // Throws Error(Busy) naming the device and who uses it: a mountpoint,
    // swap, a holder device (dm/md), or the loop device a file backs.
    static void check_not_in_use(const std::string &path);
    // Signatures libblkid recognises, e.g. "ext4 filesystem", "gpt partition table".
    static std::vector<std::string> signatures(const std::string &path);
    // Erases every signature libblkid finds (as wipefs -a does).
    static void wipe_signatures(const std::string &path);
};

} // namespace dmremap
