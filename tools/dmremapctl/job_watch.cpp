// SPDX-License-Identifier: GPL-2.0-or-later
#include "job_watch.hpp"

#include <error.hpp>

#include <cerrno>
#include <poll.h>

namespace dmremap::cli {
namespace {

constexpr const char *kMatch = "type='signal',sender='org.dmremap1'";
constexpr const char *kJobIf = "org.dmremap1.Job";

} // namespace

JobWatch::JobWatch(sdbus::IConnection &bus) : bus_(bus)
{
    completed_slot_ = bus_.addMatch(std::string(kMatch) + ",interface='" + kJobIf + "',member='Completed'",
                                    [this](sdbus::Message &msg) {
                                        bool ok = false;
                                        std::string text;
                                        msg >> ok >> text;
                                        completed_[msg.getPath()] = {ok, text};
                                    });
    progress_slot_ = bus_.addMatch(std::string(kMatch) +
                                       ",interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                                       "path_namespace='/org/dmremap1/jobs'",
                                   [this](sdbus::Message &msg) {
                                       std::string iface;
                                       std::map<std::string, sdbus::Variant> changed;
                                       msg >> iface >> changed;
                                       const auto it = changed.find("Progress");
                                       if (iface == kJobIf && it != changed.end())
                                           progress_[msg.getPath()] = it->second.get<double>();
                                   });
}

void JobWatch::pump()
{
    while (bus_.processPendingRequest()) {
    }
}

std::pair<bool, std::string> JobWatch::wait(const std::string &job, const std::function<void(double)> &progress,
                                            const std::function<bool()> &exists)
{
    double shown = -1;
    for (;;) {
        pump();
        if (const auto it = progress_.find(job); it != progress_.end() && it->second != shown && progress)
            progress(shown = it->second);
        if (const auto it = completed_.find(job); it != completed_.end())
            return it->second;
        const auto data = bus_.getEventLoopPollData();
        pollfd pfd{data.fd, data.events, 0};
        if (::poll(&pfd, 1, 1000) < 0 && errno != EINTR)
            throw Error::from_errno(Error::Code::Failed, "waiting for dm-remapd", errno);
        if (pfd.revents == 0 && !exists()) {
            pump();
            if (!completed_.count(job))
                throw Error(Error::Code::Failed, "dm-remapd: " + job + " ended without a result");
        }
    }
}

} // namespace dmremap::cli
