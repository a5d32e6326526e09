// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include "block_io.hpp"

namespace dmremap {

// A member on a block device or a regular (image) file.
class FileIo : public BlockIo {
public:
    enum class Mode { ReadOnly, ReadWrite, Exclusive };
    // Exclusive opens a block device O_EXCL: the kernel refuses it while the
    // device is mounted, held by device-mapper/md, or opened exclusively.
    FileIo(std::string path, Mode mode);
    ~FileIo() override;
    FileIo(const FileIo &) = delete;
    FileIo &operator=(const FileIo &) = delete;

    const std::string &name() const override { return path_; }
    std::uint64_t size_bytes() const override { return size_; }
    unsigned logical_block_size() const override { return lbs_; }
    bool is_block_device() const { return blockdev_; }
    void read(std::uint64_t offset, std::span<std::uint8_t> out) override;
    void write(std::uint64_t offset, std::span<const std::uint8_t> in) override;
    void flush() override;

private:
    std::string path_;
    int fd_ = -1;
    bool blockdev_ = false;
    std::uint64_t size_ = 0;
    unsigned lbs_ = 512;
};

} // namespace dmremap
