// SPDX-License-Identifier: GPL-2.0-or-later
#include "job_watch.hpp"

#include "stop_signals.hpp"

#include <error.hpp>

#include <algorithm>
#include <cerrno>
#include <map>
#include <poll.h>
#include <vector>

namespace dmremap::cli {
namespace {

constexpr const char *kMatch = "type='signal',sender='org.dmremap1'";
constexpr const char *kJobIf = "org.dmremap1.Job";

} // namespace

JobWatch::JobWatch(sdbus::IConnection &bus, std::string object) : bus_(bus), object_(std::move(object))
{
    added_slot_ = bus_.addMatch(
        std::string(kMatch) + ",interface='org.freedesktop.DBus.ObjectManager',member='InterfacesAdded'",
        [this](sdbus::Message &msg) {
            sdbus::ObjectPath path;
            std::map<std::string, std::map<std::string, sdbus::Variant>> ifaces;
            msg >> path >> ifaces;
            const auto job = ifaces.find(kJobIf);
            if (job == ifaces.end() || job_)
                return;
            const auto objects = job->second.find("Objects");
            if (objects == job->second.end())
                return;
            const auto paths = objects->second.get<std::vector<sdbus::ObjectPath>>();
            if (std::find(paths.begin(), paths.end(), object_) != paths.end())
                job_ = path;
        });
    progress_slot_ = bus_.addMatch(std::string(kMatch) +
                                       ",interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                                       "path_namespace='/org/dmremap1/jobs'",
                                   [this](sdbus::Message &msg) {
                                       std::string iface;
                                       std::map<std::string, sdbus::Variant> changed;
                                       msg >> iface >> changed;
                                       const auto it = changed.find("Progress");
                                       if (iface == kJobIf && job_ && msg.getPath() == *job_ && it != changed.end())
                                           progress_ = it->second.get<double>();
                                   });
}

void JobWatch::cancel_on_stop(const std::map<std::string, sdbus::Variant> &options)
{
    if (!StopSignals::requested() || cancel_sent_ || !job_)
        return;
    cancel_sent_ = true;
    try {
        sdbus::createProxy(bus_, "org.dmremap1", *job_)->callMethod("Cancel").onInterface(kJobIf).withArguments(options);
    } catch (const sdbus::Error &) {
        // Finished meanwhile: its reply comes anyway.
    }
}

std::uint64_t JobWatch::bytes()
{
    if (!bytes_ && job_) {
        try {
            bytes_ = sdbus::createProxy(bus_, "org.dmremap1", *job_)
                         ->getProperty("Bytes")
                         .onInterface(kJobIf)
                         .get<std::uint64_t>();
        } catch (const sdbus::Error &) {
            // Gone already: the reply is next.
        }
    }
    return bytes_;
}

void JobWatch::pump(const std::function<bool()> &done)
{
    // Stops at the reply: a connection that broke keeps "processing" (its
    // synthesized NoReply first), and the caller must see that reply.
    while (!done() && bus_.processPendingRequest()) {
    }
}

void JobWatch::wait(const std::function<bool()> &done, const std::function<void(double)> &progress)
{
    double shown = -1;
    for (;;) {
        pump(done);
        if (progress_ >= 0 && progress_ != shown && progress)
            progress(shown = progress_);
        if (done())
            return;
        const auto data = bus_.getEventLoopPollData();
        pollfd pfd{data.fd, data.events, 0};
        if (::poll(&pfd, 1, 1000) < 0 && errno != EINTR)
            throw Error::from_errno(Error::Code::Failed, "waiting for dm-remapd", errno);
    }
}

} // namespace dmremap::cli
