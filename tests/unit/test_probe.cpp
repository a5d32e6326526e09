// SPDX-License-Identifier: GPL-2.0-or-later
// Probe for others than root: the daemon's check of the path is advisory,
// what was opened decides, so a path swapped for a file is refused.
#include <discovery.hpp>
#include <error.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace dmremap;

TEST(Probe, BlockOnlyRefusesAFile)
{
    std::string path = "/tmp/dmremap-probe-XXXXXX";
    const int fd = ::mkstemp(path.data());
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 4 << 20), 0);
    ::close(fd);
    // As root the file is read (it is no member).
    EXPECT_EQ(Discovery::probe(path, false), std::nullopt);
    try {
        (void)Discovery::probe(path, true);
        ADD_FAILURE() << "a file was probed with block_only";
    } catch (const Error &e) {
        EXPECT_EQ(e.code(), Error::Code::InvalidArgument);
        EXPECT_EQ(std::string(e.what()), path + ": not a block device");
    }
    ::unlink(path.c_str());
}
