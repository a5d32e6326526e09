// SPDX-License-Identifier: LGPL-2.1-or-later
// Loop devices over image files, through libblockdev's loop plugin: the
// "spare on any filesystem" case (a sparse file on an existing filesystem
// becomes a spare member).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace dmremap {

class LoopDevice {
public:
    // A new sparse file of `bytes`; refuses an existing path, creates the
    // parent directory (mode 0700) when missing.
    static void create_image(const std::string &path, std::uint64_t bytes);
    // The loop device already backed by `image`, if any.
    static std::optional<std::string> find(const std::string &image);
    // Attaches `image` (an absolute path) and returns /dev/loopN; an image
    // already attached returns that device.
    static std::string attach(const std::string &image);
    static void detach(const std::string &loopdev);
    // For clean-up on an error path, where a second error would hide the first.
    static void detach_quietly(const std::string &loopdev) noexcept;
    // The loop device goes away by itself once its last user closes it
    // (the dm table holding it is removed). Set only while held open.
    static void set_autoclear(const std::string &loopdev);
    // The backing file of a loop device, "" when `dev` is not a loop device.
    static std::string backing_file(const std::string &dev);
};

} // namespace dmremap
