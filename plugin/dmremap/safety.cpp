// SPDX-License-Identifier: LGPL-2.1-or-later
#include "safety.hpp"

#include "error.hpp"

#include <algorithm>
#include <blkid/blkid.h>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <libmount/libmount.h>
#include <memory>
#include <sstream>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace dmremap {
namespace {

std::string read_line(const std::string &path)
{
    std::ifstream f(path);
    std::string s;
    std::getline(f, s);
    return s;
}

struct DirCloser {
    void operator()(DIR *d) const { closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

std::string real(const std::string &path)
{
    char buf[PATH_MAX];
    return ::realpath(path.c_str(), buf) ? std::string(buf) : path;
}

void check_mounts(const std::string &path, dev_t devno)
{
    std::unique_ptr<libmnt_table, decltype(&mnt_unref_table)> tb(mnt_new_table_from_file("/proc/self/mountinfo"),
                                                                  mnt_unref_table);
    if (!tb)
        return; // no mountinfo (odd container): the exclusive open still guards
    if (libmnt_fs *fs = mnt_table_find_devno(tb.get(), devno, MNT_ITER_FORWARD))
        throw Error(Error::Code::Busy, path + ": mounted at " + mnt_fs_get_target(fs));
}

void check_swaps(const std::string &path)
{
    std::ifstream f("/proc/swaps");
    std::string line;
    const std::string rp = real(path);
    std::getline(f, line); // header
    while (std::getline(f, line)) {
        const std::string dev = line.substr(0, line.find_first_of(" \t"));
        if (!dev.empty() && real(dev) == rp)
            throw Error(Error::Code::Busy, path + ": in use as swap");
    }
}

void check_holders(const std::string &path, dev_t devno)
{
    const std::string dir = "/sys/dev/block/" + std::to_string(major(devno)) + ":" + std::to_string(minor(devno)) +
                            "/holders";
    DirPtr d(opendir(dir.c_str()));
    if (!d)
        return;
    while (dirent *e = readdir(d.get()))
        if (e->d_name[0] != '.')
            throw Error(Error::Code::Busy, path + ": in use by /dev/" + e->d_name);
}

void check_loop_backing(const std::string &path)
{
    const std::string rp = real(path);
    DirPtr d(opendir("/sys/block"));
    if (!d)
        return;
    while (dirent *e = readdir(d.get())) {
        std::string n = e->d_name;
        if (n.rfind("loop", 0) != 0)
            continue;
        std::string backing = read_line("/sys/block/" + n + "/loop/backing_file");
        if (!backing.empty() && backing == rp)
            throw Error(Error::Code::Busy, path + ": backs /dev/" + n);
    }
}

struct Probe {
    explicit Probe(const std::string &path, bool write)
    {
        fd = ::open(path.c_str(), (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0)
            throw Error::from_errno(Error::Code::Io, path + ": open for signature probe", errno);
        pr = blkid_new_probe();
        if (!pr || blkid_probe_set_device(pr, fd, 0, 0) < 0) {
            ::close(fd);
            if (pr)
                blkid_free_probe(pr);
            throw Error(Error::Code::Io, path + ": cannot set up signature probe");
        }
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE | BLKID_SUBLKS_MAGIC |
                                                  BLKID_SUBLKS_BADCSUM);
        blkid_probe_enable_partitions(pr, 1);
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
    }
    ~Probe()
    {
        blkid_free_probe(pr);
        ::close(fd);
    }
    int fd;
    blkid_probe pr;
};

std::string sysfs_of(dev_t d)
{
    return "/sys/dev/block/" + std::to_string(major(d)) + ":" + std::to_string(minor(d));
}

dev_t devt_of_sysfs(const std::string &dir)
{
    unsigned ma = 0, mi = 0;
    if (std::sscanf(read_line(dir + "/dev").c_str(), "%u:%u", &ma, &mi) != 2)
        return 0;
    return makedev(ma, mi);
}

bool stacked(dev_t dev, dev_t target, int depth)
{
    if (dev == target)
        return true;
    if (depth > 16 || dev == 0)
        return false; // deeper stacks do not exist in practice; a cycle would
    const std::string dir = sysfs_of(dev);
    if (::access((dir + "/partition").c_str(), F_OK) == 0 && stacked(devt_of_sysfs(dir + "/.."), target, depth + 1))
        return true;
    const std::string backing = read_line(dir + "/loop/backing_file");
    struct stat st;
    if (!backing.empty() && ::stat(backing.c_str(), &st) == 0 && stacked(st.st_dev, target, depth + 1))
        return true;
    DirPtr d(opendir((dir + "/slaves").c_str()));
    if (!d)
        return false;
    while (dirent *e = readdir(d.get()))
        if (e->d_name[0] != '.' && stacked(devt_of_sysfs("/sys/class/block/" + std::string(e->d_name)), target,
                                           depth + 1))
            return true;
    return false;
}

} // namespace

bool Safety::stacked_on(dev_t dev, dev_t target) { return stacked(dev, target, 0); }

bool Safety::file_stacked_on(const std::string &path, dev_t target)
{
    // The file does not exist yet when an image is about to be created:
    // its directory's filesystem is what it will live on.
    std::string p = path;
    struct stat st;
    while (::stat(p.c_str(), &st) < 0) {
        const auto slash = p.rfind('/');
        if (slash == std::string::npos || p == "/")
            return false;
        p = slash == 0 ? "/" : p.substr(0, slash);
    }
    return stacked(st.st_dev, target, 0);
}

void Safety::check_not_in_use(const std::string &path)
{
    struct stat st;
    if (::stat(path.c_str(), &st) < 0)
        throw Error::from_errno(errno == ENOENT ? Error::Code::NotFound : Error::Code::Io, path, errno);
    if (S_ISBLK(st.st_mode)) {
        check_mounts(path, st.st_rdev);
        check_swaps(path);
        check_holders(path, st.st_rdev);
    } else if (S_ISREG(st.st_mode)) {
        check_swaps(path);
        check_loop_backing(path);
    }
}

std::vector<std::string> Safety::signatures(const std::string &path)
{
    Probe p(path, false);
    std::vector<std::string> out;
    // Walk every signature, not just the first (a disk can carry a stale
    // partition table under a filesystem).
    while (blkid_do_probe(p.pr) == 0) {
        const char *v = nullptr;
        if (blkid_probe_lookup_value(p.pr, "TYPE", &v, nullptr) == 0)
            out.push_back(std::string(v) + " filesystem");
        else if (blkid_probe_lookup_value(p.pr, "PTTYPE", &v, nullptr) == 0)
            out.push_back(std::string(v) + " partition table");
    }
    for (auto &s : out)
        if (s.rfind("dm_remap", 0) == 0)
            s.clear();
    std::erase(out, std::string());
    return out;
}

void Safety::wipe_signatures(const std::string &path)
{
    Probe p(path, true);
    while (blkid_do_probe(p.pr) == 0)
        if (blkid_do_wipe(p.pr, 0) < 0)
            throw Error(Error::Code::Io, path + ": cannot erase an old signature");
    if (::fsync(p.fd) < 0)
        throw Error::from_errno(Error::Code::Io, path + ": flush", errno);
}

std::vector<std::string> Safety::openers(dev_t devno)
{
    std::vector<std::string> out;
    const std::string majmin = std::to_string(major(devno)) + ":" + std::to_string(minor(devno));
    std::error_code ec;
    for (const auto &p : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string pid = p.path().filename();
        if (pid.find_first_not_of("0123456789") != std::string::npos || pid == std::to_string(::getpid()))
            continue; // not a process, or us (a descriptor inherited from the caller is the caller's)
        std::string comm;
        std::ifstream c(p.path() / "comm");
        std::getline(c, comm); // may hold spaces
        const std::string who = pid + " (" + comm + ")";
        std::error_code fd_ec;
        for (const auto &fd : std::filesystem::directory_iterator(p.path() / "fd", fd_ec)) {
            struct stat st;
            if (::stat(fd.path().c_str(), &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == devno) {
                out.push_back(who);
                break;
            }
        }
        // mountinfo field 3 is MAJOR:MINOR; our own namespace's mounts
        // were looked at by the caller.
        std::ifstream mi(p.path() / "mountinfo");
        for (std::string line; std::getline(mi, line);) {
            std::istringstream f(line);
            std::string id, parent, dev, root, target;
            if (f >> id >> parent >> dev >> root >> target && dev == majmin) {
                struct stat mine, theirs;
                if (::stat("/proc/self/ns/mnt", &mine) == 0 && ::stat((p.path() / "ns/mnt").c_str(), &theirs) == 0 &&
                    mine.st_ino != theirs.st_ino)
                    out.push_back("mounted at " + target + " in the mount namespace of " + who);
                break;
            }
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

} // namespace dmremap
