// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace dmremap {

// Positioned I/O on one member: a block device, an image file, or memory in tests.
class BlockIo {
public:
    virtual ~BlockIo() = default;
    virtual const std::string &name() const = 0;
    virtual std::uint64_t size_bytes() const = 0;
    virtual unsigned logical_block_size() const = 0;
    // Exact reads/writes; a short transfer or failure throws Error naming the device.
    virtual void read(std::uint64_t offset, std::span<std::uint8_t> out) = 0;
    virtual void write(std::uint64_t offset, std::span<const std::uint8_t> in) = 0;
    virtual void flush() = 0;
};

} // namespace dmremap
