// SPDX-License-Identifier: GPL-2.0-or-later
// Device.Replace: the online data-disk replace (Replacer, docs/REPLACE.md)
// run as a Job, as StartScan runs a scan: the call returns the result when
// the replace ends, the Job shows progress and phase meanwhile, and its
// Cancel sets the flag the library polls, which puts the device back on
// its old disk.
#include "device_object.hpp"

#include "async_reply.hpp"
#include "authorizer.hpp"
#include "daemon.hpp"
#include "error_translator.hpp"
#include "object_paths.hpp"
#include "options.hpp"
#include "refresh_after.hpp"

#include <error.hpp>
#include <replacer.hpp>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace dmremap::daemon {
namespace {

using Dict = std::map<std::string, sdbus::Variant>;

struct ReplaceArgs {
    ReplaceOptions options;
    bool interactive = true;
};

ReplaceArgs parse_replace(const std::string &new_device, const Dict &options)
{
    const Options o(options, {{"force", "b"}, {"internal_spare", "t"}, {"keep_spares", "b"}, {"spares", "as"}});
    if (new_device.empty())
        throw Error(Error::Code::InvalidArgument, "new_device: empty device path");
    ReplaceArgs a;
    a.options.force = o.flag("force");
    a.options.internal_spare = o.get<std::uint64_t>("internal_spare");
    a.options.keep_spares = o.flag("keep_spares");
    a.options.spares = o.get<std::vector<std::string>>("spares").value_or(std::vector<std::string>{});
    for (const auto &s : a.options.spares) {
        if (s.empty())
            throw Error(Error::Code::InvalidArgument, "options: 'spares' holds an empty device path");
        if (s == new_device)
            throw Error(Error::Code::InvalidArgument,
                        "options: 'spares' names " + s + ", the new data disk, as a spare too");
    }
    a.interactive = o.interactive();
    return a;
}

Authorizer::Action replace_action(const std::string &name, const std::string &new_device,
                                  const std::vector<std::string> &spares)
{
    std::vector<std::string> disks{new_device};
    disks.insert(disks.end(), spares.begin(), spares.end());
    const std::string also = spares.empty() ? "" : " and add " + Authorizer::devices(spares) + " as spares";
    return Authorizer::action(Authorizer::kReplace, name, Authorizer::devices(disks),
                              "Authentication is required to replace the data disk of the dm-remap device " + name +
                                  " by " + new_device + also + " (everything on " + Authorizer::devices(disks) + " is lost)");
}

Dict result_dict(const ReplaceResult &r)
{
    return {{"device", sdbus::Variant(r.name)},
            {"set_uuid", sdbus::Variant(r.set_uuid.str())},
            {"old_device", sdbus::Variant(r.old_device)},
            {"new_device", sdbus::Variant(r.new_device)},
            {"data_bytes", sdbus::Variant(r.data_bytes)},
            {"pending", sdbus::Variant(r.pending)},
            {"parts", sdbus::Variant(static_cast<std::uint32_t>(r.windows))},
            {"recopied", sdbus::Variant(static_cast<std::uint32_t>(r.recopied))},
            {"seconds", sdbus::Variant(r.seconds)},
            {"spares", sdbus::Variant(r.spares)},
            {"spare_errors", sdbus::Variant(r.spare_errors)}};
}

// The library reports every MiB it reads ahead, and each report to the Job
// is a PropertiesChanged to every client watching: a big disk would send
// millions. One per thousandth of the data, and each change of phase.
class JobReports {
public:
    explicit JobReports(const Daemon::JobProgress &job) : job_(job) {}
    void operator()(const ReplaceProgress &p)
    {
        if (p.phase != phase_)
            job_.phase(phase_ = p.phase);
        const bool moved = p.done > last_ && (p.done - last_) * 1000 >= p.total;
        if (p.total == 0 || !(moved || (p.done == p.total && last_ != p.total)))
            return;
        last_ = p.done;
        job_(p.done << 9, p.total << 9); // sectors: the Job counts bytes
    }

private:
    const Daemon::JobProgress &job_;
    std::string phase_;
    std::uint64_t last_ = 0;
};

} // namespace

void DeviceObject::Replace(sdbus::Result<Dict> &&result, std::string new_device, Dict options)
{
    const auto parsed = parse_or_reply(result, [&] { return parse_replace(new_device, options); });
    if (!parsed)
        return;
    Daemon &d = daemon_;
    // As long as the disk is big: a job to watch and cancel, no deadline.
    Placement where = io("Replace " + new_device);
    where.timeout = std::nullopt;
    dispatch_authorized(
        where, d.authorizer(), std::move(result), Authorizer::caller(getObject()),
        replace_action(name_, new_device, parsed->options.spares),
        parsed->interactive,
        [&d, name = name_, new_device, ro = parsed->options](std::uint32_t uid) -> Dict {
            ReplaceResult r;
            sdbus::ObjectPath path;
            auto control = std::make_shared<JobControl>(JobControl::ByFlag{});
            d.run_job(
                "replace", {ObjectPaths::device(name)}, uid,
                [&](const Daemon::JobProgress &progress) {
                    const RefreshAfter refresh(d, name);
                    // The new disk is checked free and then formatted, which
                    // makes it a member that Create or AddSpare refuse: held
                    // until the copy reports, not for the hours it takes.
                    auto claim = d.claim_devices("Replace " + new_device);
                    JobReports reports(progress);
                    try {
                        r = Replacer::replace(
                            name, new_device, ro,
                            [&](const ReplaceProgress &p) {
                                if (claim.owns_lock())
                                    claim.unlock();
                                reports(p);
                            },
                            &control->stop_flag());
                    } catch (const Error &e) {
                        // The library's cancel is a plain failure; only our
                        // flag tells it from others.
                        if (control->stop_flag().load() && e.code() == Error::Code::Failed)
                            throw ErrorTranslator::cancelled(e.what());
                        throw;
                    }
                    return name + ": now on " + r.new_device + " (was " + r.old_device + "): " +
                           std::to_string(r.data_bytes) + " bytes copied in " +
                           std::to_string(static_cast<std::uint64_t>(r.seconds + 0.5)) + " s";
                },
                {}, control, &path);
            Dict out = result_dict(r);
            out["job"] = sdbus::Variant(path);
            return out;
        });
}

} // namespace dmremap::daemon
