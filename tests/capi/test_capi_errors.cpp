// SPDX-License-Identifier: GPL-2.0-or-later
// The C boundary's translation: every dmremap::Error code to its
// BD_REMAP_ERROR code, anything else to FAILED, and required arguments of
// every exported function refused by name.
#include <guard.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

using namespace dmremap;
using dmremap::capi::guard;

namespace {

struct ErrorDeleter {
    void operator()(GError *e) const { g_error_free(e); }
};
using ErrorPtr = std::unique_ptr<GError, ErrorDeleter>;

// Runs `fn` under the guard and returns what it reported.
template <typename Fn> ErrorPtr failure_of(Fn fn)
{
    GError *err = nullptr;
    const gboolean ok = guard(&err, [&]() -> gboolean {
        fn();
        return TRUE;
    });
    EXPECT_FALSE(ok) << "the guard returned success for a throw";
    return ErrorPtr(err);
}

struct Mapping {
    Error::Code code;
    BDRemapError expected;
};

// Written out, not derived, so a renumbered enum is caught.
constexpr Mapping kMappings[] = {
    {Error::Code::Failed, BD_REMAP_ERROR_FAILED},     {Error::Code::InvalidArgument, BD_REMAP_ERROR_INVAL},
    {Error::Code::NotFound, BD_REMAP_ERROR_NOT_FOUND}, {Error::Code::Io, BD_REMAP_ERROR_IO},
    {Error::Code::Busy, BD_REMAP_ERROR_BUSY},         {Error::Code::Exists, BD_REMAP_ERROR_EXISTS},
    {Error::Code::Corrupt, BD_REMAP_ERROR_CORRUPT},   {Error::Code::NoSpace, BD_REMAP_ERROR_NO_SPACE},
};

} // namespace

TEST(CapiErrors, EveryCodeMapsToItsOwn)
{
    static_assert(std::size(kMappings) == static_cast<std::size_t>(Error::Code::NoSpace) + 1,
                  "a dmremap::Error::Code without a BD_REMAP_ERROR mapping");
    for (const auto &m : kMappings) {
        const std::string text = std::string("/dev/sdz: ") + code_name(m.code);
        const ErrorPtr e = failure_of([&] { throw Error(m.code, text, 5); });
        ASSERT_NE(e, nullptr) << code_name(m.code);
        EXPECT_EQ(e->domain, BD_REMAP_ERROR);
        EXPECT_EQ(e->code, m.expected) << code_name(m.code);
        EXPECT_STREQ(e->message, text.c_str());
        EXPECT_EQ(capi::error_code(m.code), m.expected);
    }
}

TEST(CapiErrors, CodesAreDistinct)
{
    for (const auto &a : kMappings) {
        for (const auto &b : kMappings) {
            if (a.code != b.code) {
                EXPECT_NE(a.expected, b.expected) << code_name(a.code) << " and " << code_name(b.code);
            }
        }
    }
    for (const auto &m : kMappings)
        EXPECT_NE(m.expected, BD_REMAP_ERROR_TECH_UNAVAIL);
}

TEST(CapiErrors, OtherExceptionsAreFailed)
{
    ErrorPtr e = failure_of([] { throw std::out_of_range("vector index 7"); });
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->domain, BD_REMAP_ERROR);
    EXPECT_EQ(e->code, BD_REMAP_ERROR_FAILED);
    EXPECT_NE(std::string(e->message).find("vector index 7"), std::string::npos) << e->message;

    e = failure_of([] { throw 42; });
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->code, BD_REMAP_ERROR_FAILED);
}

TEST(CapiErrors, TechUnavailable)
{
    const ErrorPtr e = failure_of([] { throw capi::TechUnavailable("no /dev/mapper/control"); });
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->code, BD_REMAP_ERROR_TECH_UNAVAIL);
    EXPECT_STREQ(e->message, "no /dev/mapper/control");
}

TEST(CapiErrors, SuccessPassesThrough)
{
    GError *err = nullptr;
    EXPECT_EQ(guard(&err, [] { return 7; }), 7);
    EXPECT_EQ(err, nullptr);
    int x = 0;
    EXPECT_EQ(guard(&err, [&] { return &x; }), &x);
    EXPECT_EQ(err, nullptr);
    // A pointer result is NULL on failure, libblockdev's convention.
    EXPECT_EQ(guard(&err, [&]() -> int * { throw Error(Error::Code::Io, "x"); }), nullptr);
    ASSERT_NE(err, nullptr);
    EXPECT_EQ(err->code, BD_REMAP_ERROR_IO);
    g_clear_error(&err);
}

TEST(CapiErrors, NullErrorPointerIsAllowed)
{
    EXPECT_FALSE(guard(nullptr, []() -> gboolean { throw Error(Error::Code::Busy, "busy"); }));
}

// Each exported function with one required argument NULL: INVAL naming it,
// before anything touches a device.
TEST(CapiErrors, RequiredArgumentsNamed)
{
    const gchar *spares[] = {"/dev/null", nullptr};
    const gchar *empty[] = {nullptr};
    const struct {
        const char *call;
        const char *arg;
        std::function<bool(GError **)> run; // true: returned success
    } cases[] = {
        {"create", "data_dev", [&](GError **e) { return bd_remap_create("x", nullptr, spares, 0, FALSE, e) != nullptr; }},
        {"create_full", "data_dev",
         [&](GError **e) { return bd_remap_create_full(nullptr, spares, nullptr, e) != nullptr; }},
        {"assemble", "members", [](GError **e) { return bd_remap_assemble(nullptr, FALSE, e) != nullptr; }},
        {"assemble_full", "members", [](GError **e) { return bd_remap_assemble_full(nullptr, nullptr, e) != nullptr; }},
        {"assemble empty", "members", [&](GError **e) { return bd_remap_assemble(empty, FALSE, e) != nullptr; }},
        {"assemble_uuid", "uuid", [](GError **e) { return bd_remap_assemble_uuid(nullptr, FALSE, e) != nullptr; }},
        {"stop", "name", [](GError **e) { return bd_remap_stop(nullptr, e) != FALSE; }},
        {"status", "name", [](GError **e) { return bd_remap_status(nullptr, e) != nullptr; }},
        {"spare_list", "name", [](GError **e) { return bd_remap_spare_list(nullptr, e) != nullptr; }},
        {"spare_add", "name", [](GError **e) { return bd_remap_spare_add(nullptr, "/dev/null", FALSE, e) != FALSE; }},
        {"spare_add_image", "name",
         [](GError **e) { return bd_remap_spare_add_image(nullptr, "/tmp/x.img", 1 << 20, e) != FALSE; }},
        {"spare_remove", "name",
         [](GError **e) { return bd_remap_spare_remove(nullptr, "/dev/null", TRUE, nullptr, nullptr, e) != FALSE; }},
        {"remap_block", "name", [](GError **e) { return bd_remap_remap_block(nullptr, 1, nullptr, e) != FALSE; }},
        {"remaps", "name", [](GError **e) { return bd_remap_remaps(nullptr, 0, 10, e) != nullptr; }},
        {"probe", "dev", [](GError **e) { return bd_remap_probe(nullptr, e) != nullptr; }},
    };
    for (const auto &c : cases) {
        GError *err = nullptr;
        EXPECT_FALSE(c.run(&err)) << c.call;
        ASSERT_NE(err, nullptr) << c.call;
        EXPECT_EQ(err->domain, BD_REMAP_ERROR) << c.call;
        EXPECT_EQ(err->code, BD_REMAP_ERROR_INVAL) << c.call << ": " << err->message;
        EXPECT_EQ(std::string(err->message).rfind(c.arg, 0), 0u) << c.call << ": " << err->message;
        g_error_free(err);
    }
}
