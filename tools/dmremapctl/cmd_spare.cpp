// SPDX-License-Identifier: GPL-2.0-or-later
// Commands that change an active device through its kernel target: spare
// add/remove/list, remap.
#include "args.hpp"
#include "backend.hpp"
#include "commands.hpp"
#include "text.hpp"

#include <error.hpp>
#include <remap_device.hpp>

#include <filesystem>
#include <iostream>
#include <unistd.h>

namespace dmremap::cli {
namespace {

const char *spare_help = R"(Usage: dmremapctl spare add NAME DEV [--force] [--json]
       dmremapctl spare add NAME --image PATH --size SIZE [--json]
       dmremapctl spare remove NAME DEV [--evacuate] [--json]
       dmremapctl spare list NAME [--json]

add       give the active device NAME a new spare: a block device, or a new
          image file of SIZE (e.g. 10G), fully allocated, attached
          as a loop device and set up again by 'assemble' at boot
          --force overwrites a signature or a member of another set
          (never a mounted or in-use device)
remove    take a spare away; --evacuate first moves the blocks that live on
          it to other spares (DEV may be the loop device or its image file,
          or index=N for a member without a device, such as a failed one)
list      spare use per member
)";

// The path recorded in the member table: absolute and without ./ or ../,
// so assembly finds the image from anywhere.
std::string absolute(const std::string &p)
{
    std::error_code ec;
    const auto abs = std::filesystem::absolute(p, ec);
    if (ec)
        throw Error(Error::Code::Io, p + ": " + ec.message());
    return abs.lexically_normal().string();
}

int spare_add(Args &a)
{
    SpareAddOptions o;
    o.force = a.flag("force");
    if (auto img = a.value("image")) {
        a.need(1, 1, "NAME");
        if (o.force)
            throw UsageError("spare add: --force does not go with --image (a new image has nothing to overwrite)");
        const auto size = a.value("size");
        if (!size)
            throw UsageError("spare add: --image needs --size SIZE (e.g. 10G)");
        const auto bytes = parse_size(*size);
        if (!bytes || *bytes < (16u << 20))
            throw UsageError("spare add: --size '" + *size + "' is not a size of at least 16M");
        o.image = absolute(*img);
        o.image_size = *bytes;
    } else {
        if (a.value("size"))
            throw UsageError("spare add: --size goes with --image");
        a.need(2, 2, a.positional().empty() ? "NAME" : "DEV (or --image PATH --size SIZE)");
    }
    const std::string &name = a.positional()[0];
    const SpareAdded r = make_backend("spare add")->spare_add(name, o.image.empty() ? a.positional()[1] : "", o);
    if (a.flag("json")) {
        std::cout << nlohmann::json({{"device", r.device},
                                     {"index", r.index},
                                     {"blocks", r.blocks},
                                     {"image", r.image.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.image)}})
                         .dump(2)
                  << "\n";
        return kExitOk;
    }
    std::cout << "Added " << r.device << (r.image.empty() ? "" : " (image " + r.image + ")") << " to " << name
              << " as spare member " << r.index << ": " << r.blocks << " spare blocks\n";
    return kExitOk;
}

int spare_remove(Args &a)
{
    a.need(2, 2, a.positional().empty() ? "NAME" : "DEV");
    const std::string &name = a.positional()[0];
    const auto backend = make_backend("spare remove");
    RemapDevice::Progress bar;
    if (!a.flag("json") && ::isatty(STDERR_FILENO))
        bar = [](std::uint32_t done, std::uint32_t total) {
            const unsigned width = 40, filled = static_cast<unsigned>(std::uint64_t{done} * width / total);
            std::cerr << "\rmoving blocks [" << std::string(filled, '#') << std::string(width - filled, ' ') << "] "
                      << done << "/" << total << (done == total ? "\n" : "") << std::flush;
        };
    const SpareRemoved r = backend->spare_remove(name, a.positional()[1], a.flag("evacuate"), bar);
    if (a.flag("json")) {
        std::cout << nlohmann::json({{"device", r.device}, {"moved", r.moved}, {"lost", r.lost}}).dump(2) << "\n";
        return kExitOk;
    }
    std::cout << "Removed " << r.device << " from " << name << ": " << r.moved << " blocks moved";
    if (r.lost)
        std::cout << ", " << r.lost << " unreadable (now pending: they read as errors until written)";
    std::cout << "\n";
    return kExitOk;
}

} // namespace

int cmd_spare(int argc, char **argv)
{
    if (argc < 3) {
        std::cerr << spare_help;
        return kExitUsage;
    }
    if (std::string(argv[2]) == "--help" || std::string(argv[2]) == "-h") {
        std::cout << spare_help;
        return kExitOk;
    }
    const std::string sub = argv[2];
    if (sub != "add" && sub != "remove" && sub != "list")
        throw UsageError("spare: unknown subcommand '" + sub + "' (add, remove, list)");
    std::vector<OptionSpec> spec = {{"json", false}, {"help", false, 'h'}};
    if (sub == "add")
        spec.insert(spec.end(), {{"image", true}, {"size", true}, {"force", false}});
    if (sub == "remove")
        spec.push_back({"evacuate", false});
    Args a("spare " + sub, spec, argc, argv, 3);
    if (a.flag("help")) {
        std::cout << spare_help;
        return kExitOk;
    }
    if (sub == "add")
        return spare_add(a);
    if (sub == "remove")
        return spare_remove(a);
    a.need(1, 1, "NAME");
    const auto spares = make_backend("spare list")->spares(a.positional()[0]);
    if (a.flag("json"))
        std::cout << spares_json(spares).dump(2) << "\n";
    else
        print_spares(spares, "");
    return kExitOk;
}

int cmd_remap(int argc, char **argv)
{
    Args a("remap", {{"json", false}, {"help", false, 'h'}}, argc, argv, 2);
    if (a.flag("help")) {
        std::cout << "Usage: dmremapctl remap NAME BLOCK [--json]\n\nMove data block BLOCK (in units of the set's "
                     "block size) to a spare now,\nbefore it fails. A block that cannot be read becomes pending.\n";
        return kExitOk;
    }
    a.need(2, 2, a.positional().empty() ? "NAME" : "BLOCK");
    const auto block = parse_uint(a.positional()[1]);
    if (!block)
        throw UsageError("remap: BLOCK '" + a.positional()[1] + "' is not a block number");
    const std::string &name = a.positional()[0];
    const bool moved = make_backend("remap")->remap(name, *block);
    if (a.flag("json"))
        std::cout << nlohmann::json({{"block", *block}, {"state", moved ? "remapped" : "pending"}}).dump(2) << "\n";
    else if (moved)
        std::cout << name << ": block " << *block << " remapped\n";
    else
        std::cout << name << ": block " << *block
                  << " could not be read: now pending (reads fail until it is written)\n";
    return kExitOk;
}

} // namespace dmremap::cli
