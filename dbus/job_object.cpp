// SPDX-License-Identifier: GPL-2.0-or-later
#include "job_object.hpp"

#include "async_reply.hpp"
#include "authorizer.hpp"
#include "error_translator.hpp"
#include "options.hpp"

#include <error.hpp>

namespace dmremap::daemon {

JobObject::JobObject(sdbus::IConnection &connection, Authorizer &authorizer, std::string path, std::string operation,
                     std::vector<sdbus::ObjectPath> objects, std::uint32_t uid, std::shared_ptr<JobControl> control)
    : AdaptorInterfaces(connection, path), authorizer_(authorizer), path_(path), operation_(std::move(operation)),
      objects_(std::move(objects)), uid_(uid), control_(std::move(control))
{
    registerAdaptor();
    emitInterfacesAddedSignal({org::dmremap1::Job_adaptor::INTERFACE_NAME});
}

JobObject::~JobObject()
{
    try {
        emitInterfacesRemovedSignal({org::dmremap1::Job_adaptor::INTERFACE_NAME});
    } catch (const sdbus::Error &) {
        // The bus is gone (shutdown): nobody to tell.
    }
    unregisterAdaptor();
}

void JobObject::set_progress(double progress) noexcept
{
    {
        std::lock_guard lock(mutex_);
        if (!(progress > progress_) || progress > 1.0)
            return;
        progress_ = progress;
    }
    // Outside the lock: emitting reads the value back through the getter.
    try {
        emitPropertiesChangedSignal(org::dmremap1::Job_adaptor::INTERFACE_NAME, {"Progress"});
    } catch (...) {
        // Called from the library's thread: nothing may escape into it.
    }
}

void JobObject::finish(bool success, const std::string &message)
{
    // A failed or canceled job did not get all the way.
    if (success)
        set_progress(1.0);
    emitCompleted(success, message);
}

double JobObject::Progress()
{
    std::lock_guard lock(mutex_);
    return progress_;
}

void JobObject::Cancel(sdbus::Result<> &&result, std::map<std::string, sdbus::Variant> options)
{
    const auto o = parse_or_reply(result, [&] {
        Options checked(options, {});
        if (!control_->cancelable())
            throw Error(Error::Code::Failed, path_ + ": " + operation_ +
                                                 " without evacuation cannot be canceled (nothing long to interrupt)");
        return checked;
    });
    if (!o)
        return;
    // Not through the worker: it is busy with this very job.
    auto reply = std::make_shared<sdbus::Result<>>(std::move(result));
    try {
        authorizer_.authorize_async(
            Authorizer::caller(getObject()),
            Authorizer::action(Authorizer::kCancel, "", path_,
                               "Authentication is required to cancel " + operation_ + " (" + path_ +
                                   "), which another user started"),
            o->interactive(), uid_,
            [reply, control = control_, path = path_](std::exception_ptr error, std::uint32_t) {
                try {
                    if (error)
                        std::rethrow_exception(error);
                    if (control->cancel() == JobControl::CancelResult::AlreadyFinished)
                        throw Error(Error::Code::Failed, path + ": already finished");
                    reply->returnResults();
                } catch (...) {
                    detail::reply_error(reply, std::current_exception());
                }
            });
    } catch (...) {
        detail::reply_error(reply, std::current_exception());
    }
}

} // namespace dmremap::daemon
