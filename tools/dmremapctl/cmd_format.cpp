// SPDX-License-Identifier: GPL-2.0-or-later
#include "args.hpp"
#include "commands.hpp"
#include "text.hpp"

#include <checker.hpp>
#include <error.hpp>
#include <file_io.hpp>
#include <formatter.hpp>
#include <layout.hpp>
#include <safety.hpp>
#include <validator.hpp>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
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

// Everything that must hold before a single byte is written.
void check_device(const std::string &path, bool force, BlockIo &io)
{
    Report ignore;
    const MemberView mv = Checker::read_superblocks(io, ignore);
    if (mv.sb && !force)
        throw Error(Error::Code::Exists, path + ": already " + role_name(mv.sb->role) + " member " +
                                             std::to_string(mv.sb->member_index) + " of remap set '" + mv.sb->name +
                                             "' (" + mv.sb->set_uuid.str() + "); use --force to overwrite");
    const auto sigs = Safety::signatures(path);
    if (!sigs.empty() && !force)
        throw Error(Error::Code::Exists, path + ": contains a " + sigs.front() + "; use --force to overwrite");
}

} // namespace

int cmd_format(int argc, char **argv)
{
    Args a("format", {{"name", true}, {"block-size", true}, {"internal-spare", true}, {"max-remaps", true},
                      {"uuid", true}, {"force", false}, {"json", false}, {"help", false, 'h'}},
           argc, argv, 2);
    if (a.flag("help")) {
        std::cout << help;
        return kExitOk;
    }
    a.need(1, 64, "DATA_DEV");
    FormatOptions o;
    if (auto v = a.value("name")) {
        if (!validator::valid_name(*v))
            throw UsageError("format: --name '" + *v +
                             "' is not a valid device name (1-127 of A-Z a-z 0-9 _ - . + : @, not starting with . or -)");
        o.name = *v;
    }
    if (auto v = a.value("block-size")) {
        auto n = parse_size(*v);
        if (!n || *n < 512 || *n > 65536 || (*n & (*n - 1)))
            throw UsageError("format: --block-size '" + *v + "' is not a power of two from 512 to 65536");
        o.block_size = static_cast<std::uint32_t>(*n);
    }
    if (auto v = a.value("internal-spare")) {
        if (!v->empty() && v->back() == '%') {
            auto p = parse_uint(v->substr(0, v->size() - 1));
            if (!p || *p > 50)
                throw UsageError("format: --internal-spare '" + *v + "' must be 0% to 50%");
            o.internal_spare_percent = static_cast<unsigned>(*p);
        } else {
            auto n = parse_size(*v);
            if (!n)
                throw UsageError("format: --internal-spare '" + *v + "' is not a size (e.g. 64M, 1G, 2%)");
            o.internal_spare = *n;
        }
    }
    if (auto v = a.value("max-remaps")) {
        auto n = parse_uint(*v);
        if (!n || *n < 256 || *n > 16777216)
            throw UsageError("format: --max-remaps '" + *v + "' must be a number from 256 to 16777216");
        o.max_entries = static_cast<std::uint32_t>(*n);
    }
    if (auto v = a.value("uuid")) {
        auto u = Uuid::parse(*v);
        if (!u || u->is_nil())
            throw UsageError("format: --uuid '" + *v + "' is not a UUID");
        o.set_uuid = *u;
    }
    const bool force = a.flag("force");

    std::vector<std::unique_ptr<FileIo>> devs;
    std::vector<BlockIo *> ios;
    std::set<std::pair<dev_t, ino_t>> seen;
    for (const auto &path : a.positional()) {
        struct stat st;
        if (::stat(path.c_str(), &st) == 0 && !seen.insert({S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev,
                                                             S_ISBLK(st.st_mode) ? 0 : st.st_ino})
                                                   .second)
            throw Error(Error::Code::InvalidArgument, path + ": given twice");
        // Before the exclusive open, which would only say "busy": this names
        // the mountpoint or holder.
        Safety::check_not_in_use(path);
        devs.push_back(std::make_unique<FileIo>(path, FileIo::Mode::Exclusive));
        check_device(path, force, *devs.back());
        ios.push_back(devs.back().get());
    }
    const FormatPlan plan = Formatter::plan(o, ios);
    if (force)
        for (const auto &path : a.positional())
            Safety::wipe_signatures(path);
    Formatter::write(plan, ios);

    const Superblock &d = plan.superblocks[0];
    std::string table = "0 " + std::to_string(d.data_sectors) + " remap " + a.positional()[0] + " " +
                        std::to_string(ios.size() - 1);
    for (std::size_t i = 1; i < ios.size(); i++)
        table += " " + a.positional()[i];
    if (a.flag("json")) {
        nlohmann::json j = {{"set_uuid", d.set_uuid.str()},
                            {"name", d.name},
                            {"block_size", d.block_size},
                            {"data_offset_sectors", d.data_offset},
                            {"data_sectors", d.data_sectors},
                            {"max_entries", d.max_entries},
                            {"members", nlohmann::json::array()}};
        for (std::size_t i = 0; i < ios.size(); i++) {
            const Superblock &s = plan.superblocks[i];
            j["members"].push_back({{"path", ios[i]->name()},
                                    {"index", s.member_index},
                                    {"role", role_name(s.role)},
                                    {"uuid", s.member_uuid.str()},
                                    {"member_sectors", s.member_sectors},
                                    {"spare_offset_sectors", s.spare_offset},
                                    {"spare_sectors", s.spare_sectors},
                                    {"spare_blocks", layout::spare_blocks(s.spare_sectors, s.block_size)}});
        }
        std::cout << j.dump(2) << "\n";
        return kExitOk;
    }
    std::cout << "Formatted remap set '" << d.name << "' (" << d.set_uuid.str() << "), block size " << d.block_size
              << "\n";
    for (std::size_t i = 0; i < ios.size(); i++) {
        const Superblock &s = plan.superblocks[i];
        std::cout << "  " << role_name(s.role) << " member " << s.member_index << ": " << ios[i]->name() << " ("
                  << human_size(s.member_sectors << 9) << ")\n";
        if (s.role == Role::Data)
            std::cout << "    data area:     " << human_size(s.data_sectors << 9) << " at sector " << s.data_offset
                      << "\n";
        std::cout << "    spare area:    " << human_size(s.spare_sectors << 9) << " ("
                  << layout::spare_blocks(s.spare_sectors, s.block_size) << " blocks)\n";
        std::cout << "    metadata:      " << human_size((s.md_offset + s.md_sectors) << 9) << ", room for "
                  << s.max_entries << " remaps\n";
    }
    bool files = false;
    for (const auto &dev : devs)
        files |= !dev->is_block_device();
    if (files)
        std::cout << "Image files: attach them with 'losetup --find --show FILE', then\n"
                     "  dmsetup create " << d.name << " --table \"$(dmremapctl table LOOP_DEV...)\"\n";
    else
        std::cout << "Device-mapper table: " << table << "\n";
    return kExitOk;
}

} // namespace dmremap::cli
