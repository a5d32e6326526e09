// SPDX-License-Identifier: GPL-2.0-or-later
// BusBackend's replace: Device.Replace in dm-remapd, whose Job's progress
// and phase drive the same progress bar as a direct replace, and SIGINT or
// SIGTERM cancel the Job (the device stays on its old disk), as they stop
// a direct one. --resume stays root's: dm-remap-replace@.service runs it.
#include "bus_backend.hpp"

#include "bus_dict.hpp"
#include "job_watch.hpp"
#include "stop_signals.hpp"

#include <error.hpp>

#include <cerrno>
#include <chrono>
#include <optional>

namespace dmremap::cli {
namespace {

using Dict = std::map<std::string, sdbus::Variant>;
constexpr const char *kJobIf = "org.dmremap1.Job";

ReplaceResult result_of(const Dict &d)
{
    ReplaceResult r;
    r.name = prop<std::string>(d, "device");
    const std::string uuid = prop<std::string>(d, "set_uuid");
    if (const auto u = Uuid::parse(uuid))
        r.set_uuid = *u;
    else
        throw Error(Error::Code::Failed, "dm-remapd: set_uuid '" + uuid + "' is not a UUID");
    r.old_device = prop<std::string>(d, "old_device");
    r.new_device = prop<std::string>(d, "new_device");
    r.data_bytes = prop<std::uint64_t>(d, "data_bytes");
    r.pending = prop<std::vector<std::uint64_t>>(d, "pending");
    r.windows = prop<std::uint32_t>(d, "parts");
    r.recopied = prop<std::uint32_t>(d, "recopied");
    r.seconds = prop<double>(d, "seconds");
    r.spares = prop<std::vector<std::string>>(d, "spares");
    r.spare_errors = prop<std::vector<std::string>>(d, "spare_errors");
    return r;
}

} // namespace

ReplaceResult BusBackend::replace(const std::string &name, const std::string &new_device, const ReplaceOptions &opts,
                                  const Replacer::Progress &progress)
{
    const std::string path = device(name).first;
    const StopSignals signals;
    JobWatch watch(bus(), path); // before the job exists
    // JobWatch follows Progress alone; the bar also names the phase.
    std::string phase;
    auto phase_slot = bus().addMatch(
        "type='signal',sender='org.dmremap1',interface='org.freedesktop.DBus.Properties',"
        "member='PropertiesChanged',path_namespace='/org/dmremap1/jobs'",
        [&](sdbus::Message &msg) {
            std::string iface;
            Dict changed;
            msg >> iface >> changed;
            const auto it = changed.find("Phase");
            if (iface == kJobIf && watch.job() && msg.getPath() == *watch.job() && it != changed.end())
                phase = it->second.get<std::string>();
        });
    Dict o = options();
    o["force"] = sdbus::Variant(opts.force);
    if (opts.internal_spare)
        o["internal_spare"] = sdbus::Variant(*opts.internal_spare);
    if (opts.keep_spares)
        o["keep_spares"] = sdbus::Variant(true);
    if (!opts.spares.empty()) {
        std::vector<std::string> spares;
        for (const auto &s : opts.spares)
            spares.push_back(absolute_path(s));
        o["spares"] = sdbus::Variant(spares);
    }
    auto proxy = sdbus::createProxy(bus(), "org.dmremap1", path);
    std::optional<Dict> result;
    std::optional<sdbus::Error> failure;
    // As long as the disk takes: D-Bus allows at most about 24 days.
    proxy->callMethodAsync("Replace")
        .onInterface("org.dmremap1.Device")
        .withTimeout(std::chrono::hours(24 * 24))
        .withArguments(absolute_path(new_device), o)
        .uponReplyInvoke([&](const sdbus::Error *error, const Dict &r) {
            if (error)
                failure = *error;
            else
                result = r;
        });
    watch.wait(
        [&] {
            watch.cancel_on_stop(options());
            return result || failure;
        },
        [&](double fraction) {
            // The data length, in sectors as the library reports it.
            if (const std::uint64_t sectors = watch.bytes() >> 9; progress && sectors)
                progress({static_cast<std::uint64_t>(fraction * static_cast<double>(sectors)), sectors, phase});
        });
    if (failure)
        rethrow_daemon_error(*failure, name);
    return result_of(*result);
}

std::optional<ReplaceResult> BusBackend::replace_resume(const Uuid &set, std::chrono::seconds,
                                                        const Replacer::Progress &)
{
    // Run at boot by dm-remap-replace@SET-UUID.service as root; dm-remapd
    // offers no method for it.
    throw Error(Error::Code::Failed,
                "set " + set.str() +
                    ": replace --resume is run by root (dm-remap-replace@" + set.str() +
                    ".service at boot); run it as root",
                EPERM);
}

} // namespace dmremap::cli
