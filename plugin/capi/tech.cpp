// SPDX-License-Identifier: LGPL-2.1-or-later
// What the modes need. Checked without running modinfo or modprobe: a
// query must not load modules or depend on kmod being installed.
#include "guard.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <sys/utsname.h>
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

// Matches what depmod installs: plain or compressed, in any subfolder
// (extra/, updates/, kernel/drivers/md/).
bool is_module_file(const std::filesystem::path &p)
{
    const std::string n = p.filename().string();
    return n == "dm-remap.ko" || n == "dm-remap.ko.xz" || n == "dm-remap.ko.zst" || n == "dm-remap.ko.gz";
}

std::string target_problem()
{
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists("/sys/module/dm_remap", ec))
        return "";
    utsname u{};
    if (::uname(&u) != 0)
        return std::string("uname: ") + std::strerror(errno);
    const fs::path dir = fs::path("/lib/modules") / u.release;
    // Unreadable entries are skipped rather than fatal: a module we cannot
    // see is reported as missing, which is what modprobe would find too.
    for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end; it.increment(ec)) {
        if (is_module_file(it->path()))
            return "";
    }
    return "the remap target: module dm_remap is not loaded and no dm-remap.ko is installed under " +
           dir.string();
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
