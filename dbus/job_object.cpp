// SPDX-License-Identifier: GPL-2.0-or-later
#include "job_object.hpp"

#include "error_translator.hpp"

#include <error.hpp>

namespace dmremap::daemon {

JobObject::JobObject(sdbus::IConnection &connection, std::string path, std::string operation,
                     std::vector<sdbus::ObjectPath> objects, std::uint32_t uid, bool cancelable)
    : AdaptorInterfaces(connection, std::move(path)), operation_(std::move(operation)), objects_(std::move(objects)),
      uid_(uid), cancelable_(cancelable)
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
    set_progress(1.0);
    emitCompleted(success, message);
}

double JobObject::Progress()
{
    std::lock_guard lock(mutex_);
    return progress_;
}

void JobObject::Cancel(const std::map<std::string, sdbus::Variant> &)
{
    // A sync handler: only sdbus::Error may leave it.
    throw ErrorTranslator::translate(std::make_exception_ptr(
        Error(Error::Code::Failed, operation_ + ": cannot be canceled (one kernel operation, see Cancelable)")));
}

} // namespace dmremap::daemon
