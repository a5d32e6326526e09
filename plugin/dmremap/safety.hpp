// SPDX-License-Identifier: LGPL-2.1-or-later
// Refusals before anything is written to a device: mounted, in use,
// holding a filesystem/partition table/RAID signature.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

namespace dmremap {

class Safety {
public:
    // Throws Error(Busy) naming the device and who uses it: a mountpoint,
    // swap, a holder device (dm/md), or the loop device a file backs.
    static void check_not_in_use(const std::string &path);
    // Who holds block device `devno` open, for a "busy" message: "PID
    // (COMMAND)" of processes with it open, "mounted in the namespace of
    // PID (COMMAND)" where another mount namespace still has it mounted.
    // Empty when nothing visible holds it (a kernel holder).
    static std::vector<std::string> openers(dev_t devno);
    // Signatures libblkid recognises, e.g. "ext4 filesystem", "gpt partition table".
    static std::vector<std::string> signatures(const std::string &path);
    // Whether block device `dev` is `target` or is built on it: through
    // device-mapper/md slaves, a partition's disk, a loop device's backing
    // file and the filesystem that file lives on.
    static bool stacked_on(dev_t dev, dev_t target);
    // The same for a regular file (an image to be attached).
    static bool file_stacked_on(const std::string &path, dev_t target);
    // Erases every signature libblkid finds (as wipefs -a does).
    static void wipe_signatures(const std::string &path);
};

} // namespace dmremap
