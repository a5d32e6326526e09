// SPDX-License-Identifier: GPL-2.0-or-later
#include "args.hpp"
#include "backend.hpp"
#include "commands.hpp"
#include "text.hpp"

#include <error.hpp>
#include <formatter.hpp>
#include <set_manager.hpp>
#include <layout.hpp>
#include <validator.hpp>

#include <iostream>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

namespace dmremap::cli {
namespace {

const char *help = R"(Usage: dmremapctl format [OPTIONS] DATA_DEV [SPARE_DEV...]

Write a new remap set: the data device holds user data and an internal
spare area; each SPARE_DEV adds spare capacity. Block devices or image files.

Options:
  --name NAME            set name, used as /dev/mapper/NAME (default remap-XXXXXXXX)
  --block-size BYTES     remap granularity, power of two 512..65536 (default 4096)
  --internal-spare SIZE  spare area at the end of DATA_DEV, e.g. 64M, 1G or 2%
                         (default 1% of the device, at least 4 MiB, at most 1 GiB)
  --max-remaps N         metadata capacity in remap entries (default 1048576)
  --uuid UUID            set UUID (default random)
  --force                overwrite existing signatures and old dm-remap members;
                         never overrides a mounted or in-use device
  --json                 print what was written as JSON
)";

const char *create_help = R"(Usage: dmremapctl create [OPTIONS] DATA_DEV [SPARE_DEV...]

Format the devices as a new remap set and activate it as /dev/mapper/NAME.
Block devices only (attach an image with 'losetup --find --show FILE', or
add images later with 'dmremapctl spare add NAME --image PATH --size SIZE').

Options: those of 'dmremapctl format' (--name, --block-size,
--internal-spare, --max-remaps, --uuid, --force), and
  --scan-schedule=SPEC   scan the new device unattended: weekly, daily, monthly,
                         a systemd calendar expression or off, as 'dmremapctl
                         schedule NAME SPEC' sets it (dm-remap-scan@NAME.timer)
  --json                 print the new device as JSON
)";

const std::vector<OptionSpec> format_spec = {
    {"name", true},    {"block-size", true}, {"internal-spare", true}, {"max-remaps", true},
    {"uuid", true},    {"force", false},     {"json", false},          {"help", false, 'h'}};

FormatOptions format_options(const Args &a)
{
    const std::string cmd = a.command();
    FormatOptions o;
    if (auto v = a.value("name")) {
        if (!validator::valid_name(*v))
            throw UsageError(cmd + ": --name '" + *v +
                             "' is not a valid device name (" + validator::kNameRules + ")");
        o.name = *v;
    }
    if (auto v = a.value("block-size")) {
        auto n = parse_size(*v);
        if (!n || *n < 512 || *n > 65536 || (*n & (*n - 1)))
            throw UsageError(cmd + ": --block-size '" + *v + "' is not a power of two from 512 to 65536");
        o.block_size = static_cast<std::uint32_t>(*n);
    }
    if (auto v = a.value("internal-spare")) {
        if (!v->empty() && v->back() == '%') {
            auto p = parse_uint(v->substr(0, v->size() - 1));
            if (!p || *p > 50)
                throw UsageError(cmd + ": --internal-spare '" + *v + "' must be 0% to 50%");
            o.internal_spare_percent = static_cast<unsigned>(*p);
        } else {
            auto n = parse_size(*v);
            if (!n)
                throw UsageError(cmd + ": --internal-spare '" + *v + "' is not a size (e.g. 64M, 1G, 2%)");
            o.internal_spare = *n;
        }
    }
    if (auto v = a.value("max-remaps")) {
        auto n = parse_uint(*v);
        if (!n || *n < 256 || *n > 16777216)
            throw UsageError(cmd + ": --max-remaps '" + *v + "' must be a number from 256 to 16777216");
        o.max_entries = static_cast<std::uint32_t>(*n);
    }
    if (auto v = a.value("uuid")) {
        auto u = Uuid::parse(*v);
        if (!u || u->is_nil())
            throw UsageError(cmd + ": --uuid '" + *v + "' is not a UUID");
        o.set_uuid = *u;
    }
    return o;
}

nlohmann::json plan_json(const FormatPlan &plan, const std::vector<std::string> &paths)
{
    const Superblock &d = plan.superblocks[0];
    nlohmann::json j = {{"set_uuid", d.set_uuid.str()},
                        {"name", d.name},
                        {"block_size", d.block_size},
                        {"data_offset_sectors", d.data_offset},
                        {"data_sectors", d.data_sectors},
                        {"max_entries", d.max_entries},
                        {"members", nlohmann::json::array()}};
    for (std::size_t i = 0; i < paths.size(); i++) {
        const Superblock &s = plan.superblocks[i];
        j["members"].push_back({{"path", paths[i]},
                                {"index", s.member_index},
                                {"role", role_name(s.role)},
                                {"uuid", s.member_uuid.str()},
                                {"member_sectors", s.member_sectors},
                                {"spare_offset_sectors", s.spare_offset},
                                {"spare_sectors", s.spare_sectors},
                                {"spare_blocks", layout::spare_blocks(s.spare_sectors, s.block_size)}});
    }
    return j;
}

void print_plan(const FormatPlan &plan, const std::vector<std::string> &paths)
{
    for (std::size_t i = 0; i < paths.size(); i++) {
        const Superblock &s = plan.superblocks[i];
        std::cout << "  " << role_name(s.role) << " member " << s.member_index << ": " << paths[i] << " ("
                  << human_size(s.member_sectors << 9) << ")\n";
        if (s.role == Role::Data)
            std::cout << "    data area:     " << human_size(s.data_sectors << 9) << " at sector " << s.data_offset
                      << "\n";
        std::cout << "    spare area:    " << human_size(s.spare_sectors << 9) << " ("
                  << layout::spare_blocks(s.spare_sectors, s.block_size) << " blocks)\n";
        const unsigned copies = layout::md_copies(s);
        std::cout << "    metadata:      " << human_size((s.md_offset + s.md_sectors) << 9) << " in " << copies
                  << (copies == 1 ? " copy" : " copies") << ", room for "
                  << s.max_entries << " remaps\n";
    }
}

} // namespace

int cmd_format(int argc, char **argv)
{
    Args a("format", format_spec, argc, argv, 2);
    if (a.flag("help")) {
        std::cout << help;
        return kExitOk;
    }
    a.need(1, 64, "DATA_DEV");
    const FormatOptions o = format_options(a);
    const auto &paths = a.positional();
    const FormatPlan plan = SetManager::format(paths, o, a.flag("force"));
    if (a.flag("json")) {
        std::cout << plan_json(plan, paths).dump(2) << "\n";
        return kExitOk;
    }
    const Superblock &d = plan.superblocks[0];
    std::cout << "Formatted remap set '" << d.name << "' (" << d.set_uuid.str() << "), block size " << d.block_size
              << "\n";
    print_plan(plan, paths);
    bool files = false;
    for (const auto &p : paths) {
        struct stat st;
        files |= ::stat(p.c_str(), &st) == 0 && !S_ISBLK(st.st_mode);
    }
    if (files) {
        std::cout << "Image files: attach them with 'losetup --find --show FILE', then\n"
                     "  dmremapctl assemble LOOP_DEV...\n";
    } else {
        std::string table = "0 " + std::to_string(d.data_sectors) + " remap " + paths[0] + " " +
                            std::to_string(paths.size() - 1);
        for (std::size_t i = 1; i < paths.size(); i++)
            table += " " + paths[i];
        std::cout << "Device-mapper table: " << table << "\nActivate it with 'dmremapctl assemble " << paths[0]
                  << "'.\n";
    }
    return kExitOk;
}

int cmd_create(int argc, char **argv)
{
    auto spec = format_spec;
    spec.push_back({"scan-schedule", true});
    Args a("create", spec, argc, argv, 2);
    if (a.flag("help")) {
        std::cout << create_help;
        return kExitOk;
    }
    a.need(1, 64, "DATA_DEV");
    const FormatOptions o = format_options(a);
    const auto schedule = scan_schedule_option(a);
    if (schedule && !schedule->off && !o.name.empty())
        ScanSchedule::timer_unit(o.name); // a name systemd can carry, before anything is written
    const auto &paths = a.positional();
    const CreateResult r = make_backend("create")->create(paths, o, a.flag("force"), schedule);
    if (a.flag("json")) {
        nlohmann::json j = plan_json(r.plan, paths);
        j["device"] = "/dev/mapper/" + r.name;
        j["scan_schedule"] = schedule ? nlohmann::json(schedule->off ? "off" : schedule->calendar) : nullptr;
        std::cout << j.dump(2) << "\n";
        return kExitOk;
    }
    const Superblock &d = r.plan.superblocks[0];
    std::cout << "Created /dev/mapper/" << r.name << ": remap set '" << d.name << "' (" << d.set_uuid.str()
              << "), block size " << d.block_size << "\n";
    print_plan(r.plan, paths);
    if (schedule && !schedule->off)
        std::cout << "Scans: " << schedule->calendar << " (" << ScanSchedule::timer_unit(r.name)
                  << ")\n";
    return kExitOk;
}

} // namespace dmremap::cli
