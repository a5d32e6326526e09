// SPDX-License-Identifier: LGPL-2.1-or-later
// What the modes need. Checked without running modinfo or modprobe: a
// query must not load modules.
#include "guard.hpp"

// The header has no extern "C" of its own.
extern "C" {
#include <blockdev/utils.h>
}

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace dmremap::capi {
namespace {

constexpr guint64 kAllModes = BD_REMAP_TECH_MODE_CREATE | BD_REMAP_TECH_MODE_MODIFY | BD_REMAP_TECH_MODE_QUERY |
                              BD_REMAP_TECH_MODE_ACTIVATE;
constexpr const char *kControl = "/dev/mapper/control";

// "" when usable, else why not.
std::string control_problem()
{
    const int fd = ::open(kControl, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return std::string(kControl) + ": " + std::strerror(errno);
    ::close(fd);
    return "";
}

std::string target_problem()
{
    if (::access("/sys/module/dm_remap", F_OK) == 0)
        return "";
    // libblockdev asks libkmod, which reads depmod's index: no walk of
    // /lib/modules on every query.
    GError *err = nullptr;
    if (bd_utils_have_kernel_module("dm_remap", &err))
        return "";
    std::string why = "the remap target: module dm_remap is not loaded and not installed for this kernel";
    if (err) {
        why += std::string(" (") + err->message + ")";
        g_error_free(err);
    }
    return why;
}

gboolean tech_avail(int tech, guint64 mode)
{
    if (tech != BD_REMAP_TECH_REMAP)
        throw TechUnavailable("unknown technology " + std::to_string(tech));
    if (mode & ~kAllModes)
        throw TechUnavailable("unknown mode bits " + std::to_string(mode & ~kAllModes));
    // Reading superblocks (QUERY) works on any file; the rest talk to the
    // kernel target.
    if (!(mode & (BD_REMAP_TECH_MODE_CREATE | BD_REMAP_TECH_MODE_MODIFY | BD_REMAP_TECH_MODE_ACTIVATE)))
        return TRUE;
    std::string missing = control_problem();
    if (!missing.empty())
        missing = "device-mapper control: " + missing;
    if (const std::string t = target_problem(); !t.empty())
        missing += (missing.empty() ? "" : "; ") + t;
    if (!missing.empty())
        throw TechUnavailable(missing);
    return TRUE;
}

} // namespace
} // namespace dmremap::capi

extern "C" gboolean bd_remap_is_tech_avail(BDRemapTech tech, guint64 mode, GError **error)
{
    // A C caller may pass any int here, but in C++ loading an enum outside
    // its enumerators' range is undefined; read the bits instead.
    static_assert(sizeof(BDRemapTech) == sizeof(int));
    int raw = 0;
    std::memcpy(&raw, &tech, sizeof(raw));
    return dmremap::capi::guard(error, [&] { return dmremap::capi::tech_avail(raw, mode); });
}
