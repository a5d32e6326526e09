// SPDX-License-Identifier: LGPL-2.1-or-later
// Loop devices over image files, through libblockdev's loop plugin: the
// "spare on any filesystem" case (a file on an existing filesystem becomes
// a spare member).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace dmremap {

class LoopDevice {
public:
    // Room an image leaves free on its filesystem.
    static constexpr std::uint64_t kImageMargin = 64ull << 20;
    // A new file of `bytes`, every block allocated (not sparse), on a
    // filesystem that keeps kImageMargin free beside it; refuses an
    // existing path, creates the parent directory (mode 0700) when missing.
    static void create_image(const std::string &path, std::uint64_t bytes);
    // The loop device already backed by `image`, if any.
    static std::optional<std::string> find(const std::string &image);
    // Attaches `image` (an absolute path) and returns /dev/loopN; an image
    // already attached returns that device.
    static std::string attach(const std::string &image);
    // Where image spares live: assembly attaches images recorded in
    // metadata only from here (another filesystem is mounted here).
    static const char *spare_dir() noexcept;
    // Refuses (InvalidArgument) a path for a new image spare that is not
    // directly in spare_dir(): assembly would not attach it again.
    static void check_image_path(const std::string &path);
    // Attaches an image path read from a member's metadata, which anyone
    // with a USB stick can write: only a file directly in spare_dir() (a
    // root-owned directory nobody else may write), itself a regular file
    // owned by root, writable by nobody else, of exactly `bytes`; checked
    // and attached through one descriptor, never followed through a
    // symlink and never opened if it is not a regular file. Anything else
    // is an Error saying why; an image attached already is reused.
    static std::string attach_recorded(const std::string &image, std::uint64_t bytes);
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
