// SPDX-License-Identifier: GPL-2.0-or-later
// Image spares are created fully allocated, on a filesystem that keeps room
// beside them: a remap must not fail for want of space while the disk dies.
// On the host's temporary directory (a real filesystem, no device).
#include <error.hpp>
#include <loop_device.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <sys/statvfs.h>

using namespace dmremap;
namespace fs = std::filesystem;

namespace {

class LoopImage : public ::testing::Test {
protected:
    void SetUp() override
    {
        std::string tmpl = (fs::temp_directory_path() / "dmremap-image-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

Error::Code code_of(const std::function<void()> &fn, std::string *message = nullptr)
{
    try {
        fn();
    } catch (const Error &e) {
        if (message)
            *message = e.what();
        return e.code();
    }
    ADD_FAILURE() << "no dmremap::Error thrown";
    return Error::Code::Failed;
}

} // namespace

TEST_F(LoopImage, EveryBlockAllocated)
{
    const fs::path img = dir_ / "spares" / "s1.img";
    LoopDevice::create_image(img, 8u << 20);
    struct stat st;
    ASSERT_EQ(::stat(img.c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 8 << 20);
    EXPECT_GE(std::uint64_t(st.st_blocks) * 512, 8u << 20) << "the image is sparse";
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    ASSERT_EQ(::stat(img.parent_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u) << "the missing directory was not created private";
}

TEST_F(LoopImage, RefusedWhenItLeavesTooLittleRoom)
{
    struct statvfs vfs;
    ASSERT_EQ(::statvfs(dir_.c_str(), &vfs), 0);
    const std::uint64_t free = std::uint64_t(vfs.f_bavail) * vfs.f_frsize;
    ASSERT_GT(free, LoopDevice::kImageMargin) << "the test's filesystem is nearly full";
    const fs::path img = dir_ / "big.img";
    std::string msg;
    // It would fit, but not with the margin beside it.
    EXPECT_EQ(code_of([&] { LoopDevice::create_image(img, free - LoopDevice::kImageMargin / 2); }, &msg),
              Error::Code::NoSpace);
    EXPECT_NE(msg.find(img.string() + ": "), std::string::npos) << msg;
    EXPECT_NE(msg.find("bytes do not fit: " + dir_.string() + " has "), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::to_string(LoopDevice::kImageMargin) + " must stay free beside the image"),
              std::string::npos)
        << msg;
    EXPECT_FALSE(fs::exists(img)) << "a refused image was left behind";
    EXPECT_EQ(code_of([&] { LoopDevice::create_image(img, free + 1); }), Error::Code::NoSpace);
    EXPECT_FALSE(fs::exists(img));
}

TEST_F(LoopImage, ExistingOrRelativePathRefused)
{
    const fs::path img = dir_ / "s.img";
    LoopDevice::create_image(img, 1u << 20);
    EXPECT_EQ(code_of([&] { LoopDevice::create_image(img, 1u << 20); }), Error::Code::Exists);
    EXPECT_EQ(code_of([&] { LoopDevice::create_image("relative/s.img", 1u << 20); }), Error::Code::InvalidArgument);
}

// Assembly attaches images only from the spare directory, so a new image
// anywhere else would be a spare that does not come back.
TEST(ImagePath, OnlyDirectlyInTheSpareDirectory)
{
    const std::string dir = LoopDevice::spare_dir();
    EXPECT_NO_THROW(LoopDevice::check_image_path(dir + "/s1.img"));
    EXPECT_NO_THROW(LoopDevice::check_image_path(dir + "/..s1.img"));
    for (const std::string &bad : {std::string("/tmp/s1.img"), dir, dir + "/", dir + "/sub/s1.img", dir + "/..",
                                  dir + "/.", dir + "/../spares/s1.img", dir + "x/s1.img", std::string("s1.img")}) {
        std::string msg;
        EXPECT_EQ(code_of([&] { LoopDevice::check_image_path(bad); }, &msg), Error::Code::InvalidArgument) << bad;
        EXPECT_EQ(msg, bad + ": image spares live directly in " + dir +
                           "/, the one place assembly attaches them again from (mount another filesystem there "
                           "for more room)");
    }
}
