// SPDX-License-Identifier: LGPL-2.1-or-later
// The per-set state that is not metadata: scan checkpoints, the last full
// scan, the health history. It lives in <root>/<set-uuid>/ (root: the
// state_dir build option, /var/lib/dm-remap; DM_REMAP_STATE_DIR overrides
// it for tests and for a unit that wants it elsewhere). Losing it loses
// history and a scan's resume point, never data, so it is written
// atomically but not journalled.
#pragma once

#include "uuid.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace dmremap {

class StateStore {
public:
    // The directory of every set's state.
    static std::filesystem::path root();

    // Creates <root>/<set-uuid>/ (mode 0700) when missing; Error(Io) naming
    // the directory when it cannot.
    explicit StateStore(const Uuid &set_uuid);

    const std::filesystem::path &dir() const { return dir_; }
    std::filesystem::path path(const std::string &file) const { return dir_ / file; }

    // The whole file; nullopt when it does not exist. Error(Io) otherwise.
    std::optional<std::string> read(const std::string &file) const;
    // Replaces the file so that a reader or a crash sees the old or the
    // new content, never a mix: a temporary file, fsync, rename, fsync of
    // the directory.
    void write_atomic(const std::string &file, const std::string &content) const;

    // An exclusive flock on the set's directory, held while it lives: the
    // daemon, a scan and a timer's `health --update` may run at once.
    class Lock {
    public:
        // Without `wait`, Error Busy when someone else holds it.
        explicit Lock(const std::filesystem::path &dir, bool wait = true);
        ~Lock();
        Lock(const Lock &) = delete;
        Lock &operator=(const Lock &) = delete;

    private:
        int fd_ = -1;
    };
    Lock lock() const { return Lock(dir_); }

private:
    std::filesystem::path dir_;
};

// Writes `content` to `path` atomically (as StateStore::write_atomic), for
// files outside a set's directory (the metrics textfile).
void write_file_atomic(const std::filesystem::path &path, const std::string &content, unsigned mode = 0600);

} // namespace dmremap
