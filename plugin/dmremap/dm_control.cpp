// SPDX-License-Identifier: LGPL-2.1-or-later
#include "dm_control.hpp"

#include "error.hpp"

#include <libdevmapper.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

namespace dmremap {
namespace {

// libdevmapper reports through a log callback; keep its last error for
// our message instead of letting a library print to stderr.
thread_local std::string last_log;

void dm_log(int level, const char *, int, int, const char *fmt, ...)
{
    if ((level & 7) > 3) // above _LOG_ERR: warnings, notices, debug
        return;
    va_list ap;
    va_start(ap, fmt);
    char buf[512];
    std::vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    last_log = buf;
}

void init_logging()
{
    static std::once_flag once;
    std::call_once(once, [] { dm_log_with_errno_init(dm_log); });
}

struct TaskDeleter {
    void operator()(dm_task *t) const { dm_task_destroy(t); }
};
using Task = std::unique_ptr<dm_task, TaskDeleter>;

Error::Code code_for(int err)
{
    switch (err) {
    case ENXIO:
    case ENODEV:
    case ENOENT:
        return Error::Code::NotFound;
    case EBUSY:
        return Error::Code::Busy;
    case EEXIST:
        return Error::Code::Exists;
    case ENOSPC:
        return Error::Code::NoSpace;
    case EINVAL:
        return Error::Code::InvalidArgument;
    default:
        return Error::Code::Failed;
    }
}

class Op {
public:
    Op(int type, const std::string &name, std::string what) : name_(name), what_(std::move(what))
    {
        init_logging();
        last_log.clear();
        task_.reset(dm_task_create(type));
        if (!task_)
            throw Error(Error::Code::Failed, (name.empty() ? "" : name + ": ") +
                                                 "device-mapper is not available (cannot open /dev/mapper/control: "
                                                 "is dm_mod loaded? are you root?)");
        if (!name.empty() && !dm_task_set_name(task_.get(), name.c_str()))
            fail();
    }

    dm_task *get() { return task_.get(); }

    // Runs the task; with `udev`, waits until udev has processed it.
    void run(bool udev = false, bool hidden = false)
    {
        uint32_t cookie = 0;
        const uint16_t flags = hidden ? DM_UDEV_DISABLE_SUBSYSTEM_RULES_FLAG | DM_UDEV_DISABLE_DISK_RULES_FLAG |
                                            DM_UDEV_DISABLE_OTHER_RULES_FLAG
                                      : 0;
        if (udev && !dm_task_set_cookie(task_.get(), &cookie, flags))
            fail();
        const int ok = dm_task_run(task_.get());
        const int err = dm_task_get_errno(task_.get());
        if (udev)
            dm_udev_wait(cookie);
        if (!ok)
            fail(err);
    }

    [[noreturn]] void fail(int err = 0)
    {
        std::string msg = prefix() + what_ + " failed";
        if (err)
            msg += std::string(": ") + std::strerror(err);
        if (!last_log.empty())
            msg += " (device-mapper: " + last_log + ")";
        throw Error(code_for(err), msg, err);
    }

private:
    std::string prefix() const { return (name_.empty() ? "device-mapper" : name_) + ": "; }

    Task task_;
    std::string name_;
    std::string what_;
};

void add_target(Op &op, const DmTarget &t)
{
    if (!dm_task_add_target(op.get(), t.start, t.length, t.type.c_str(), t.params.c_str()))
        op.fail();
}

std::vector<DmTarget> targets(int type, const std::string &name, const char *what)
{
    Op op(type, name, what);
    op.run();
    std::vector<DmTarget> out;
    void *next = nullptr;
    do {
        uint64_t start = 0, length = 0;
        char *ttype = nullptr, *params = nullptr;
        next = dm_get_next_target(op.get(), next, &start, &length, &ttype, &params);
        if (ttype)
            out.push_back({start, length, ttype, params ? params : ""});
    } while (next);
    return out;
}

} // namespace

void DmControl::create(const std::string &name, const std::string &uuid, const DmTarget &target, bool read_only)
{
    Op op(DM_DEVICE_CREATE, name, "create");
    if (!uuid.empty() && !dm_task_set_uuid(op.get(), uuid.c_str()))
        op.fail();
    if (read_only && !dm_task_set_ro(op.get()))
        op.fail();
    add_target(op, target);
    op.run(true, hidden_);
}

void DmControl::create_empty(const std::string &name, const std::string &uuid)
{
    Op op(DM_DEVICE_CREATE, name, "create");
    if (!uuid.empty() && !dm_task_set_uuid(op.get(), uuid.c_str()))
        op.fail();
    // No udev wait: the kernel sends no event carrying the cookie for a
    // device without a table, so the wait would never end; udev hears of
    // the device at its first resume.
    op.run();
}

void DmControl::reload(const std::string &name, const std::vector<DmTarget> &targets)
{
    Op op(DM_DEVICE_RELOAD, name, "reload");
    for (const auto &t : targets)
        add_target(op, t);
    op.run();
}

void DmControl::clear(const std::string &name)
{
    Op op(DM_DEVICE_CLEAR, name, "clear");
    op.run();
}

void DmControl::reload(const std::string &name, const DmTarget &target, bool read_only)
{
    Op op(DM_DEVICE_RELOAD, name, "reload");
    if (read_only && !dm_task_set_ro(op.get()))
        op.fail();
    add_target(op, target);
    op.run();
}

void DmControl::suspend(const std::string &name, bool noflush)
{
    Op op(DM_DEVICE_SUSPEND, name, "suspend");
    if (noflush && !dm_task_no_flush(op.get()))
        op.fail();
    op.run();
}

void DmControl::resume(const std::string &name)
{
    Op op(DM_DEVICE_RESUME, name, "resume");
    op.run(true, hidden_);
}

void DmControl::remove(const std::string &name)
{
    Op op(DM_DEVICE_REMOVE, name, "remove");
    // udev's blkid and our rule open a device briefly after each change
    // event (the target sends one per commit): retry through that.
    if (!dm_task_retry_remove(op.get()))
        op.fail();
    op.run(true, hidden_);
}

std::string DmControl::message(const std::string &name, const std::string &text)
{
    Op op(DM_DEVICE_TARGET_MSG, name, "message '" + text + "'");
    if (!dm_task_set_sector(op.get(), 0) || !dm_task_set_message(op.get(), text.c_str()))
        op.fail();
    op.run();
    const char *r = dm_task_get_message_response(op.get());
    return r ? r : "";
}

std::vector<DmTarget> DmControl::table(const std::string &name) { return targets(DM_DEVICE_TABLE, name, "table"); }

std::vector<DmTarget> DmControl::status(const std::string &name) { return targets(DM_DEVICE_STATUS, name, "status"); }

std::optional<DmInfo> DmControl::info(const std::string &name)
{
    Op op(DM_DEVICE_INFO, name, "info");
    op.run();
    dm_info i{};
    if (!dm_task_get_info(op.get(), &i))
        op.fail();
    if (!i.exists)
        return std::nullopt;
    DmInfo out;
    out.name = name;
    const char *uuid = dm_task_get_uuid(op.get());
    out.uuid = uuid ? uuid : "";
    out.major = static_cast<std::uint32_t>(i.major);
    out.minor = static_cast<std::uint32_t>(i.minor);
    out.suspended = i.suspended;
    out.read_only = i.read_only;
    out.live_table = i.live_table;
    out.inactive_table = i.inactive_table;
    out.open_count = i.open_count;
    out.event_nr = i.event_nr;
    return out;
}

std::vector<std::string> DmControl::names()
{
    Op op(DM_DEVICE_LIST, "", "list");
    op.run();
    std::vector<std::string> out;
    dm_names *n = dm_task_get_names(op.get());
    if (!n || !n->dev)
        return out;
    for (;;) {
        out.emplace_back(n->name);
        if (!n->next)
            break;
        n = reinterpret_cast<dm_names *>(reinterpret_cast<char *>(n) + n->next);
    }
    return out;
}

bool DmControl::has_target(const std::string &type)
{
    Op op(DM_DEVICE_GET_TARGET_VERSION, type, "target version");
    try {
        op.run();
    } catch (const Error &) {
        return false;
    }
    return true;
}

std::uint32_t DmControl::wait_event(const std::string &name, std::uint32_t event_nr)
{
    Op op(DM_DEVICE_WAITEVENT, name, "wait");
    if (!dm_task_set_event_nr(op.get(), event_nr))
        op.fail();
    op.run();
    dm_info i{};
    if (!dm_task_get_info(op.get(), &i))
        op.fail();
    return i.event_nr;
}

} // namespace dmremap
