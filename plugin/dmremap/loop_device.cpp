// SPDX-License-Identifier: LGPL-2.1-or-later
#include "loop_device.hpp"

#include "error.hpp"

#include <glib.h>
// The plugin's header has no extern "C" of its own.
extern "C" {
#include <blockdev/loop.h>
}

#include <cerrno>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>

namespace dmremap {
namespace {

struct GErrorFree {
    void operator()(GError *e) const { g_error_free(e); }
};

// The plugin used standalone has to be initialised once per process.
void init()
{
    static std::once_flag once;
    static bool ok = false;
    std::call_once(once, [] { ok = bd_loop_init(); });
    if (!ok)
        throw Error(Error::Code::Failed, "libblockdev loop plugin: initialisation failed");
}

[[noreturn]] void fail(const std::string &what, GError *err)
{
    std::unique_ptr<GError, GErrorFree> e(err);
    throw Error(Error::Code::Failed, what + (e ? std::string(": ") + e->message : std::string()));
}

std::string short_name(const std::string &dev)
{
    return dev.rfind("/dev/", 0) == 0 ? dev.substr(5) : dev;
}

std::string take(gchar *s)
{
    std::string out = s ? s : "";
    g_free(s);
    return out;
}

void make_parent(const std::string &path)
{
    const auto slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0)
        return;
    const std::string dir = path.substr(0, slash);
    struct stat st;
    if (::stat(dir.c_str(), &st) == 0)
        return;
    make_parent(dir);
    if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST)
        throw Error::from_errno(Error::Code::Io, dir + ": cannot create directory", errno);
}

} // namespace

void LoopDevice::create_image(const std::string &path, std::uint64_t bytes)
{
    if (path.empty() || path[0] != '/')
        throw Error(Error::Code::InvalidArgument, path + ": image path must be absolute");
    make_parent(path);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        throw Error::from_errno(errno == EEXIST ? Error::Code::Exists : Error::Code::Io, path + ": cannot create image",
                                errno);
    if (::ftruncate(fd, static_cast<off_t>(bytes)) < 0 || ::fsync(fd) < 0) {
        const int err = errno;
        ::close(fd);
        ::unlink(path.c_str());
        throw Error::from_errno(err == EFBIG || err == ENOSPC ? Error::Code::NoSpace : Error::Code::Io,
                                path + ": cannot size image to " + std::to_string(bytes) + " bytes", err);
    }
    ::close(fd);
}

std::optional<std::string> LoopDevice::find(const std::string &image)
{
    init();
    GError *err = nullptr;
    std::string name = take(bd_loop_get_loop_name(image.c_str(), &err));
    if (err)
        g_error_free(err); // "no loop device for it" is not an error here
    if (name.empty())
        return std::nullopt;
    return "/dev/" + short_name(name);
}

std::string LoopDevice::attach(const std::string &image)
{
    if (auto dev = find(image))
        return *dev;
    struct stat st;
    if (::stat(image.c_str(), &st) < 0)
        throw Error::from_errno(errno == ENOENT ? Error::Code::NotFound : Error::Code::Io, image, errno);
    if (!S_ISREG(st.st_mode))
        throw Error(Error::Code::InvalidArgument, image + ": not a regular file");
    const gchar *name = nullptr;
    GError *err = nullptr;
    if (!bd_loop_setup(image.c_str(), 0, 0, FALSE, FALSE, &name, &err))
        fail(image + ": cannot set up a loop device", err);
    std::string dev = "/dev/" + short_name(name);
    g_free(const_cast<gchar *>(name));
    return dev;
}

void LoopDevice::detach(const std::string &loopdev)
{
    init();
    GError *err = nullptr;
    if (!bd_loop_teardown(short_name(loopdev).c_str(), &err))
        fail(loopdev + ": cannot detach", err);
}

void LoopDevice::detach_quietly(const std::string &loopdev) noexcept
{
    try {
        detach(loopdev);
    } catch (...) {
    }
}

void LoopDevice::set_autoclear(const std::string &loopdev)
{
    init();
    GError *err = nullptr;
    if (!bd_loop_set_autoclear(short_name(loopdev).c_str(), TRUE, &err))
        fail(loopdev + ": cannot set autoclear", err);
}

std::string LoopDevice::backing_file(const std::string &dev)
{
    const std::string n = short_name(dev);
    if (n.rfind("loop", 0) != 0)
        return "";
    init();
    GError *err = nullptr;
    std::string file = take(bd_loop_get_backing_file(n.c_str(), &err));
    if (err)
        g_error_free(err);
    return file;
}

} // namespace dmremap
