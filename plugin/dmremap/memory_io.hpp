// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include "block_io.hpp"
#include "error.hpp"

#include <cstring>
#include <vector>

namespace dmremap {

// An in-memory member, for tests and the fuzzer. Reads beyond the end fail
// as a short device would.
class MemoryIo : public BlockIo {
public:
    MemoryIo(std::string name, std::uint64_t size) : name_(std::move(name)), data_(size, 0) {}
    MemoryIo(std::string name, std::vector<std::uint8_t> data) : name_(std::move(name)), data_(std::move(data)) {}

    const std::string &name() const override { return name_; }
    std::uint64_t size_bytes() const override { return data_.size(); }
    unsigned logical_block_size() const override { return 512; }
    void read(std::uint64_t off, std::span<std::uint8_t> out) override
    {
        check(off, out.size(), "read");
        if (!out.empty())
            std::memcpy(out.data(), data_.data() + off, out.size());
    }
    void write(std::uint64_t off, std::span<const std::uint8_t> in) override
    {
        check(off, in.size(), "write");
        if (!in.empty())
            std::memcpy(data_.data() + off, in.data(), in.size());
    }
    void flush() override {}

    std::vector<std::uint8_t> &bytes() { return data_; }

private:
    void check(std::uint64_t off, std::size_t len, const char *what) const
    {
        if (off > data_.size() || len > data_.size() - off)
            throw Error(Error::Code::Io, name_ + ": " + what + " of " + std::to_string(len) + " bytes at " +
                                             std::to_string(off) + " is beyond the end of the device");
    }

    std::string name_;
    std::vector<std::uint8_t> data_;
};

} // namespace dmremap
