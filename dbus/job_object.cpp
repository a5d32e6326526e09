// SPDX-License-Identifier: GPL-2.0-or-later
#include "job_object.hpp"

#include "async_reply.hpp"
#include "authorizer.hpp"
#include "error_translator.hpp"
#include "options.hpp"

#include <error.hpp>

#include <iostream>

namespace dmremap::daemon {

JobObject::JobObject(sdbus::IConnection &connection, Authorizer &authorizer, std::string path, std::string operation,
                     std::vector<sdbus::ObjectPath> objects, std::uint32_t uid, std::shared_ptr<JobControl> control)
    : AdaptorInterfaces(connection, path), authorizer_(authorizer), path_(path), operation_(std::move(operation)),
      objects_(std::move(objects)), uid_(uid), control_(std::move(control)),
      start_us_(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count())),
      start_(std::chrono::steady_clock::now())
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

void JobObject::set_progress(std::uint64_t done, std::uint64_t total) noexcept
{
    if (total == 0 || done > total)
        return;
    const double fraction = static_cast<double>(done) / static_cast<double>(total);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    {
        std::lock_guard lock(mutex_);
        if (progress_valid_ && !(fraction > progress_))
            return;
        progress_ = fraction;
        progress_valid_ = true;
        bytes_ = total;
        if (seconds > 0 && done > 0) {
            rate_ = static_cast<std::uint64_t>(static_cast<double>(done) / seconds);
            // A first block moved after a long wait would project past what
            // a uint64 holds: unknown (0) rather than undefined.
            const double end_us = static_cast<double>(start_us_) + seconds / fraction * 1e6;
            expected_end_us_ = end_us < 1.8e19 ? static_cast<std::uint64_t>(end_us) : 0;
        }
    }
    // Outside the lock: emitting reads the values back through the getters.
    try {
        emitPropertiesChangedSignal(org::dmremap1::Job_adaptor::INTERFACE_NAME,
                                    {"Progress", "ProgressValid", "Bytes", "Rate", "ExpectedEndTime"});
    } catch (...) {
        // Called from the library's thread: nothing may escape into it.
    }
}

void JobObject::set_phase(const std::string &phase) noexcept
{
    try {
        {
            std::lock_guard lock(mutex_);
            if (phase == phase_)
                return;
            phase_ = phase;
        }
        emitPropertiesChangedSignal(org::dmremap1::Job_adaptor::INTERFACE_NAME, {"Phase"});
    } catch (...) {
        // Called from the work's thread: nothing may escape into it.
    }
}

void JobObject::cancel() noexcept
{
    try {
        if (control_->cancelable())
            control_->cancel();
    } catch (const std::exception &e) {
        std::cerr << "dm-remapd: " << path_ << ": cancel at shutdown: " << e.what() << "\n";
    }
}

void JobObject::finish(bool success, const std::string &message)
{
    // A failed or canceled job did not get all the way.
    if (success) {
        std::uint64_t total;
        {
            std::lock_guard lock(mutex_);
            total = progress_valid_ ? bytes_ : 0;
        }
        if (total)
            set_progress(total, total);
    }
    emitCompleted(success, message);
}

double JobObject::Progress()
{
    std::lock_guard lock(mutex_);
    return progress_;
}

bool JobObject::ProgressValid()
{
    std::lock_guard lock(mutex_);
    return progress_valid_;
}

std::uint64_t JobObject::Bytes()
{
    std::lock_guard lock(mutex_);
    return bytes_;
}

std::uint64_t JobObject::Rate()
{
    std::lock_guard lock(mutex_);
    return rate_;
}

std::uint64_t JobObject::ExpectedEndTime()
{
    std::lock_guard lock(mutex_);
    return expected_end_us_;
}

std::string JobObject::Phase()
{
    std::lock_guard lock(mutex_);
    return phase_;
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
    auto reply = std::make_shared<detail::Reply<>>(std::move(result));
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
                    if (reply->claim())
                        reply->result.returnResults();
                } catch (...) {
                    detail::reply_error(reply, std::current_exception());
                }
            });
    } catch (...) {
        detail::reply_error(reply, std::current_exception());
    }
}

} // namespace dmremap::daemon
