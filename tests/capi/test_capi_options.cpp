// SPDX-License-Identifier: GPL-2.0-or-later
// The options of bd_remap_create_full and bd_remap_assemble_full as the
// core receives them. Refusals name the key and the value; accepted
// options format real loop devices as asked (read back from the
// superblocks). Activation after the format needs the kernel target, which
// only the VM tests have; test_capi.c checks the public functions' order
// (options before devices).
#include <options.hpp>

#include <checker.hpp>
#include <error.hpp>
#include <file_io.hpp>
#include <loop_device.hpp>
#include <set_manager.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

using namespace dmremap;
using namespace dmremap::capi;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t MiB = 1024 * 1024;
constexpr const char *kUuid = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

// A BDExtraArg list owned by the test (the struct is plain: opt, val).
class Args {
public:
    Args(std::initializer_list<std::pair<const char *, const char *>> kv)
    {
        for (const auto &[k, v] : kv)
            storage_.push_back(BDExtraArg{const_cast<gchar *>(k), const_cast<gchar *>(v)});
        for (auto &a : storage_)
            ptrs_.push_back(&a);
        ptrs_.push_back(nullptr);
    }
    const BDExtraArg *const *get() const { return ptrs_.data(); }

private:
    std::vector<BDExtraArg> storage_;
    std::vector<const BDExtraArg *> ptrs_;
};

std::string refusal(const std::function<void()> &fn)
{
    try {
        fn();
    } catch (const Error &e) {
        EXPECT_EQ(e.code(), Error::Code::InvalidArgument) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "accepted";
    return "";
}

} // namespace

TEST(CapiOptions, CreateDefaults)
{
    const FormatOptions def;
    const Args empty({});
    for (const BDExtraArg *const *opts : {static_cast<const BDExtraArg *const *>(nullptr), empty.get()}) {
        const CreateRequest r = create_request(opts);
        EXPECT_EQ(r.format.name, "");
        EXPECT_EQ(r.format.block_size, def.block_size);
        EXPECT_EQ(r.format.max_entries, def.max_entries);
        EXPECT_FALSE(r.format.internal_spare);
        EXPECT_FALSE(r.format.internal_spare_percent);
        EXPECT_FALSE(r.format.set_uuid);
        EXPECT_FALSE(r.force);
    }
}

TEST(CapiOptions, CreateEveryKey)
{
    const Args a({{"name", "vol1"},
                  {"block-size", "8192"},
                  {"internal-spare", "8388608"},
                  {"max-remaps", "4096"},
                  {"uuid", kUuid},
                  {"force", ""}});
    const CreateRequest r = create_request(a.get());
    EXPECT_EQ(r.format.name, "vol1");
    EXPECT_EQ(r.format.block_size, 8192u);
    EXPECT_EQ(r.format.internal_spare, 8 * MiB);
    EXPECT_FALSE(r.format.internal_spare_percent);
    EXPECT_EQ(r.format.max_entries, 4096u);
    ASSERT_TRUE(r.format.set_uuid);
    EXPECT_EQ(r.format.set_uuid->str(), kUuid);
    EXPECT_TRUE(r.force);

    const CreateRequest p = create_request(Args({{"internal-spare", "7%"}, {"force", "no"}}).get());
    EXPECT_EQ(p.format.internal_spare_percent, 7u);
    EXPECT_FALSE(p.format.internal_spare);
    EXPECT_FALSE(p.force);
    EXPECT_EQ(create_request(Args({{"internal-spare", "0"}}).get()).format.internal_spare, 0u);
    EXPECT_EQ(create_request(Args({{"internal-spare", "50%"}}).get()).format.internal_spare_percent, 50u);
    for (const char *yes : {"", "true", "yes", "1"})
        EXPECT_TRUE(create_request(Args({{"force", yes}}).get()).force) << yes;
    for (const char *no : {"false", "no", "0"})
        EXPECT_FALSE(create_request(Args({{"force", no}}).get()).force) << no;
}

// Each refusal names the key and the value as given.
TEST(CapiOptions, CreateRefusals)
{
    const struct {
        Args args;
        const char *key, *value, *why;
    } cases[] = {
        {Args({{"blocksize", "4096"}}), "blocksize", "4096", "unknown key"},
        {Args({{"degraded", ""}}), "degraded", "", "unknown key"},
        {Args({{"block-size", "4000"}}), "block-size", "4000", "power of two"},
        {Args({{"block-size", "256"}}), "block-size", "256", "power of two"},
        {Args({{"block-size", "4k"}}), "block-size", "4k", "not a decimal number"},
        {Args({{"block-size", "-4096"}}), "block-size", "-4096", "not a decimal number"},
        {Args({{"block-size", " 4096"}}), "block-size", " 4096", "not a decimal number"},
        {Args({{"block-size", "4294967296"}}), "block-size", "4294967296", "too large"},
        {Args({{"max-remaps", "10"}}), "max-remaps", "10", "remap capacity"},
        {Args({{"internal-spare", "51%"}}), "internal-spare", "51%", "more than 50%"},
        {Args({{"internal-spare", "%"}}), "internal-spare", "%", "not a decimal number"},
        {Args({{"internal-spare", "8M"}}), "internal-spare", "8M", "not a decimal number"},
        {Args({{"internal-spare", "1048576"}, {"internal-spare", "5%"}}), "internal-spare", "5%",
         "given twice (also as '1048576')"},
        {Args({{"name", "a/b"}}), "name", "a/b", "not a valid device name"},
        {Args({{"name", ""}}), "name", "", "not a valid device name"},
        {Args({{"name", "x"}, {"name", "y"}}), "name", "y", "given twice"},
        {Args({{"uuid", "not-a-uuid"}}), "uuid", "not-a-uuid", "not a set UUID"},
        {Args({{"uuid", "00000000-0000-0000-0000-000000000000"}}), "uuid", "00000000-0000-0000-0000-000000000000",
         "not a set UUID"},
        {Args({{"force", "maybe"}}), "force", "maybe", "not a flag"},
    };
    for (const auto &c : cases) {
        const std::string m = refusal([&] { create_request(c.args.get()); });
        const std::string head = std::string("options: '") + c.key + "' = '" + c.value + "': ";
        EXPECT_EQ(m.rfind(head, 0), 0u) << m;
        EXPECT_NE(m.find(c.why), std::string::npos) << m;
    }
    // A hand-built entry without a key.
    const Args nokey({{nullptr, "x"}});
    EXPECT_NE(refusal([&] { create_request(nokey.get()); }).find("no key"), std::string::npos);
}

TEST(CapiOptions, Assemble)
{
    AssembleRequest r = assemble_request(nullptr);
    EXPECT_FALSE(r.assemble.degraded);
    EXPECT_EQ(r.assemble.name, "");
    EXPECT_FALSE(r.uuid);

    r = assemble_request(Args({{"degraded", "true"}, {"name", "vol2"}, {"uuid", kUuid}}).get());
    EXPECT_TRUE(r.assemble.degraded);
    EXPECT_EQ(r.assemble.name, "vol2");
    ASSERT_TRUE(r.uuid);
    EXPECT_EQ(r.uuid->str(), kUuid);

    const struct {
        Args args;
        const char *head;
    } cases[] = {
        {Args({{"block-size", "4096"}}), "options: 'block-size' = '4096': unknown key"},
        {Args({{"degraded", "2"}}), "options: 'degraded' = '2': not a flag"},
        {Args({{"name", "-x"}}), "options: 'name' = '-x': not a valid device name"},
        {Args({{"name", ""}}), "options: 'name' = '': not a valid device name"},
        {Args({{"uuid", "xyz"}}), "options: 'uuid' = 'xyz': not a set UUID"},
        {Args({{"degraded", ""}, {"degraded", "1"}}), "options: 'degraded' = '1': given twice"},
    };
    for (const auto &c : cases) {
        const std::string m = refusal([&] { assemble_request(c.args.get()); });
        EXPECT_EQ(m.rfind(c.head, 0), 0u) << m;
    }
}

// What bd_remap_create_full hands SetManager::create, formatted onto real
// loop devices by the same SetManager::format create runs, then read back.
class CapiOptionsLoop : public ::testing::Test {
protected:
    void SetUp() override
    {
        std::string tmpl = (fs::temp_directory_path() / "capi-options-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        for (const char *n : {"data.img", "spare.img"}) {
            const std::string img = (dir_ / n).string();
            std::ofstream(img).close();
            fs::resize_file(img, 64 * MiB);
            loops_.push_back(LoopDevice::attach(img)); // root: a failure here is a failure
        }
    }
    void TearDown() override
    {
        for (const auto &l : loops_)
            LoopDevice::detach_quietly(l);
        fs::remove_all(dir_);
    }
    static Superblock superblock(const std::string &dev)
    {
        FileIo io(dev, FileIo::Mode::ReadOnly);
        Report report;
        const MemberView v = Checker::read_superblocks(io, report);
        if (!v.sb)
            throw Error(Error::Code::Corrupt, dev + ": no valid superblock");
        return *v.sb;
    }
    fs::path dir_;
    std::vector<std::string> loops_;
};

TEST_F(CapiOptionsLoop, FormatAsAsked)
{
    const CreateRequest r = create_request(Args({{"name", "capi-opts"},
                                                 {"block-size", "16384"},
                                                 {"internal-spare", "8388608"},
                                                 {"max-remaps", "2048"},
                                                 {"uuid", kUuid}})
                                               .get());
    SetManager::format(loops_, r.format, r.force);
    for (std::size_t i = 0; i < loops_.size(); i++) {
        const Superblock sb = superblock(loops_[i]);
        EXPECT_EQ(sb.name, "capi-opts") << loops_[i];
        EXPECT_EQ(sb.set_uuid.str(), kUuid) << loops_[i];
        EXPECT_EQ(sb.block_size, 16384u) << loops_[i];
        EXPECT_EQ(sb.max_entries, 2048u) << loops_[i];
        EXPECT_EQ(sb.member_index, i) << loops_[i];
    }
    EXPECT_EQ(superblock(loops_[0]).spare_sectors * 512, 8 * MiB);

    // The public probe agrees.
    GError *err = nullptr;
    BDRemapMember *m = bd_remap_probe(loops_[1].c_str(), &err);
    ASSERT_NE(m, nullptr) << (err ? err->message : "not a member");
    EXPECT_STREQ(m->set_name, "capi-opts");
    EXPECT_STREQ(m->set_uuid, kUuid);
    EXPECT_STREQ(m->role, "spare");
    bd_remap_member_free(m);

    // Members of a set now: without "force" they are refused, with it
    // they are formatted again, here with a percentage of internal spare.
    const CreateRequest again = create_request(Args({{"internal-spare", "25%"}, {"max-remaps", "256"}}).get());
    try {
        SetManager::format(loops_, again.format, again.force);
        ADD_FAILURE() << "old members overwritten without force";
    } catch (const Error &e) {
        EXPECT_EQ(e.code(), Error::Code::Exists) << e.what();
    }
    EXPECT_EQ(superblock(loops_[0]).set_uuid.str(), kUuid) << "the refused format wrote";
    const CreateRequest forced =
        create_request(Args({{"internal-spare", "25%"}, {"max-remaps", "256"}, {"force", "yes"}}).get());
    SetManager::format(loops_, forced.format, forced.force);
    const Superblock sb = superblock(loops_[0]);
    EXPECT_NE(sb.set_uuid.str(), kUuid);
    EXPECT_EQ(sb.block_size, 4096u);
    EXPECT_EQ(sb.max_entries, 256u);
    EXPECT_EQ(sb.name, "remap-" + sb.set_uuid.str().substr(0, 8));
    EXPECT_EQ(sb.spare_sectors * 512, 16 * MiB); // 25% of 64 MiB, on 1 MiB alignment already
}
