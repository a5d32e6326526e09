// SPDX-License-Identifier: LGPL-2.1-or-later
#include "loop_device.hpp"

#include "error.hpp"

#include <glib.h>
// The plugin's header has no extern "C" of its own.
extern "C" {
#include <blockdev/loop.h>
}

#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <algorithm>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace dmremap {
namespace {

// libblockdev's loop plugin, loaded on first use: linked, it brought
// GLib, libkmod and through that libcrypto into every process using the
// core, 3 MiB of dm-remapd's 10.5 MiB resident (docs/PERFORMANCE.md),
// where most sets never have a loop-file spare.
struct Plugin {
    decltype(&bd_loop_init) init;
    decltype(&bd_loop_get_loop_name) get_loop_name;
    decltype(&bd_loop_setup) setup;
    decltype(&bd_loop_setup_from_fd) setup_from_fd;
    decltype(&bd_loop_teardown) teardown;
    decltype(&bd_loop_set_autoclear) set_autoclear;
    decltype(&bd_loop_get_backing_file) get_backing_file;
    decltype(&g_free) free;
    decltype(&g_error_free) error_free;
};

constexpr const char *kPluginLibrary = "libbd_loop.so.2";

template <typename F> void bind_symbol(void *lib, F &f, const char *symbol, std::string &missing)
{
    f = reinterpret_cast<F>(::dlsym(lib, symbol));
    if (!f)
        missing += std::string(missing.empty() ? "" : ", ") + symbol;
}

// The plugin used standalone has to be initialised once per process.
const Plugin &plugin()
{
    static std::once_flag once;
    static Plugin p{};
    static std::string error;
    std::call_once(once, [] {
        void *lib = ::dlopen(kPluginLibrary, RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            const char *why = ::dlerror();
            error = std::string("cannot load libblockdev's loop plugin: ") + (why ? why : kPluginLibrary);
            return;
        }
        std::string missing;
        bind_symbol(lib, p.init, "bd_loop_init", missing);
        bind_symbol(lib, p.get_loop_name, "bd_loop_get_loop_name", missing);
        bind_symbol(lib, p.setup, "bd_loop_setup", missing);
        bind_symbol(lib, p.setup_from_fd, "bd_loop_setup_from_fd", missing);
        bind_symbol(lib, p.teardown, "bd_loop_teardown", missing);
        bind_symbol(lib, p.set_autoclear, "bd_loop_set_autoclear", missing);
        bind_symbol(lib, p.get_backing_file, "bd_loop_get_backing_file", missing);
        bind_symbol(lib, p.free, "g_free", missing);
        bind_symbol(lib, p.error_free, "g_error_free", missing);
        if (!missing.empty())
            error = std::string(kPluginLibrary) + " lacks " + missing;
        else if (!p.init())
            error = "libblockdev loop plugin: initialisation failed";
    });
    if (!error.empty())
        throw Error(Error::Code::Failed, error);
    return p;
}

struct GErrorFree {
    void operator()(GError *e) const { plugin().error_free(e); }
};

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
    plugin().free(s);
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
    const std::string dir = path.substr(0, std::max<std::size_t>(path.rfind('/'), 1));
    struct statvfs fs;
    if (::statvfs(dir.c_str(), &fs) < 0)
        throw Error::from_errno(Error::Code::Io, dir + ": cannot read its free space", errno);
    const std::uint64_t free = std::uint64_t(fs.f_bavail) * fs.f_frsize;
    if (bytes > free || free - bytes < kImageMargin)
        throw Error(Error::Code::NoSpace, path + ": " + std::to_string(bytes) + " bytes do not fit: " + dir + " has " +
                                              std::to_string(free) + " bytes free, and " +
                                              std::to_string(kImageMargin) + " must stay free beside the image");
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        throw Error::from_errno(errno == EEXIST ? Error::Code::Exists : Error::Code::Io, path + ": cannot create image",
                                errno);
    // Every block allocated now, not sparse: a remap must not fail for want
    // of room on this filesystem, least of all while the disk is dying.
    if (::fallocate(fd, 0, 0, static_cast<off_t>(bytes)) < 0 || ::fsync(fd) < 0) {
        const int err = errno;
        ::close(fd);
        ::unlink(path.c_str());
        if (err == EOPNOTSUPP)
            throw Error::from_errno(Error::Code::InvalidArgument,
                                    path + ": its filesystem cannot allocate the image's blocks ahead (fallocate); "
                                           "put images on ext4, xfs, btrfs or tmpfs",
                                    err);
        throw Error::from_errno(err == EFBIG || err == ENOSPC ? Error::Code::NoSpace : Error::Code::Io,
                                path + ": cannot allocate " + std::to_string(bytes) + " bytes", err);
    }
    ::close(fd);
}

std::optional<std::string> LoopDevice::find(const std::string &image)
{
    const Plugin &p = plugin();
    GError *err = nullptr;
    std::string name = take(p.get_loop_name(image.c_str(), &err));
    if (err)
        p.error_free(err); // "no loop device for it" is not an error here
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
    const Plugin &p = plugin();
    if (!p.setup(image.c_str(), 0, 0, FALSE, FALSE, &name, &err))
        fail(image + ": cannot set up a loop device", err);
    std::string dev = "/dev/" + short_name(name);
    p.free(const_cast<gchar *>(name));
    return dev;
}

const char *LoopDevice::spare_dir() noexcept { return DMREMAP_SPARE_DIR; }

namespace {

// The file name of `path` if it lies directly in `dir`, else "".
std::string name_in(const std::string &dir, const std::string &path)
{
    const std::string name = path.rfind(dir + "/", 0) == 0 ? path.substr(dir.size() + 1) : "";
    return name.find('/') != std::string::npos || name == "." || name == ".." ? "" : name;
}

} // namespace

void LoopDevice::check_image_path(const std::string &path)
{
    if (name_in(spare_dir(), path).empty())
        throw Error(Error::Code::InvalidArgument, path + ": image spares live directly in " + spare_dir() +
                                                      "/, the one place assembly attaches them again from "
                                                      "(mount another filesystem there for more room)");
}

std::string LoopDevice::attach_recorded(const std::string &image, std::uint64_t bytes)
{
    if (auto dev = find(image))
        return *dev;
    const std::string dir = spare_dir();
    const auto refuse = [&](const std::string &why) -> Error {
        return Error(Error::Code::InvalidArgument, "image " + image + " refused: " + why);
    };
    // Directly in the directory: no other component to follow or swap.
    const std::string name = name_in(dir, image);
    if (name.empty())
        throw refuse("image spares are attached only from " + dir + "/ (attach it with losetup to use it)");
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        throw refuse(dir + ": " + std::strerror(errno));
    struct stat st;
    if (::fstat(dfd, &st) < 0 || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        ::close(dfd);
        throw refuse(dir + " is not a directory owned by root that only root may write");
    }
    // Looked at before it is opened: opening a FIFO or a device node can
    // block or act.
    if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
        const int err = errno;
        ::close(dfd);
        throw Error::from_errno(err == ENOENT ? Error::Code::NotFound : Error::Code::Io, image, err);
    }
    const int fd = S_ISREG(st.st_mode)
                       ? ::openat(dfd, name.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
                       : -1;
    const int open_err = errno;
    ::close(dfd);
    if (!S_ISREG(st.st_mode))
        throw refuse(S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file");
    if (fd < 0)
        throw Error::from_errno(Error::Code::Io, image, open_err);
    struct stat fst;
    std::string why;
    if (::fstat(fd, &fst) < 0 || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino || !S_ISREG(fst.st_mode))
        why = "it changed while it was opened";
    else if (fst.st_uid != 0 || (fst.st_mode & (S_IWGRP | S_IWOTH)))
        why = "not owned by root, or writable by others than root";
    else if (std::uint64_t(fst.st_size) != bytes)
        why = std::to_string(fst.st_size) + " bytes, the set recorded " + std::to_string(bytes);
    if (!why.empty()) {
        ::close(fd);
        throw refuse(why);
    }
    const Plugin *p = nullptr;
    try {
        p = &plugin();
    } catch (...) {
        ::close(fd);
        throw;
    }
    const gchar *loop = nullptr;
    GError *err = nullptr;
    const gboolean ok = p->setup_from_fd(fd, 0, 0, FALSE, FALSE, &loop, &err);
    ::close(fd); // the loop device holds the file now
    if (!ok)
        fail(image + ": cannot set up a loop device", err);
    std::string dev = "/dev/" + short_name(loop);
    p->free(const_cast<gchar *>(loop));
    return dev;
}

void LoopDevice::detach(const std::string &loopdev)
{
    GError *err = nullptr;
    if (!plugin().teardown(short_name(loopdev).c_str(), &err))
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
    GError *err = nullptr;
    if (!plugin().set_autoclear(short_name(loopdev).c_str(), TRUE, &err))
        fail(loopdev + ": cannot set autoclear", err);
}

std::string LoopDevice::backing_file(const std::string &dev)
{
    const std::string n = short_name(dev);
    if (n.rfind("loop", 0) != 0)
        return "";
    const Plugin &p = plugin();
    GError *err = nullptr;
    std::string file = take(p.get_backing_file(n.c_str(), &err));
    if (err)
        p.error_free(err);
    return file;
}

} // namespace dmremap
