// SPDX-License-Identifier: GPL-2.0-or-later
// dmremapctl: the dm-remap admin tool. Library errors are translated to a
// message and an exit code here, and only here.
#include "args.hpp"
#include "backend.hpp"
#include "commands.hpp"
#include "polkit_agent.hpp"

#include <error.hpp>

#include <cerrno>
#include <cstring>
#include <iostream>

using namespace dmremap::cli;

namespace {

struct Command {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
};

const Command commands[] = {
    {"create", cmd_create, "format devices as a new remap set and activate it"},
    {"assemble", cmd_assemble, "activate existing sets (by member, --uuid or --all)"},
    {"stop", cmd_stop, "deactivate a device (refused while mounted or open)"},
    {"members", cmd_members, "dm-remap members found on this system"},
    {"status", cmd_status, "state, remaps, spare use and errors of active devices"},
    {"list", cmd_list, "one line per active dm-remap device"},
    {"spare", cmd_spare, "add, remove or list the spares of an active device"},
    {"replace", cmd_replace, "move the device to a new data disk while it stays in use"},
    {"remap", cmd_remap, "move a block to a spare now"},
    {"remaps", cmd_remaps, "the remapped and pending blocks of an active device"},
    {"pending", cmd_pending, "blocks that read as errors until written"},
    {"scan", cmd_scan, "read the whole device to find unreadable blocks (resumable)"},
    {"schedule", cmd_schedule, "when the device is scanned unattended (a systemd timer)"},
    {"health", cmd_health, "health state, reasons, forecast, last scan, SMART (--check for monitors)"},
    {"format", cmd_format, "write a new remap set onto a data device and optional spares"},
    {"dump", cmd_dump, "show a member's superblock and remap table"},
    {"check", cmd_check, "check members for damage (exit 0 clean, 6 damaged)"},
    {"restore", cmd_restore, "write metadata back from a dump"},
    {"probe", cmd_probe, "print udev KEY=VALUE properties of a member"},
    {"table", cmd_table, "print the device-mapper table line for a set"},
};

void usage(std::ostream &out)
{
    out << "Usage: dmremapctl [--no-ask-password] COMMAND [OPTIONS] [ARGS]\n\nCommands:\n";
    for (const auto &c : commands)
        out << "  " << c.name << std::string(10 - std::strlen(c.name), ' ') << c.summary << "\n";
    out << "\nOptions before COMMAND:\n"
           "  --no-ask-password  polkit must not ask for a password (no agent is started)\n"
           "\nRun 'dmremapctl COMMAND --help' for a command's options; see dmremapctl(8).\n"
           "Exit status: 0 ok, 1 failed, 2 usage, 3 not found, 4 refused (in use, exists),\n"
           "5 not authorized, 6 damaged; health --check: 7 warning, 8 failing.\n";
}

// "spare add", not "spare": the same prefix as its usage errors.
std::string prefix(int argc, char **argv)
{
    const std::string name = argv[1];
    return name == "spare" && argc > 2 ? name + " " + argv[2] : name;
}

// The one translation of a library error into an exit status.
int exit_status(const dmremap::Error &e)
{
    using Code = dmremap::Error::Code;
    // Opening a device or file the caller may not: what polkit would say.
    if (e.sys_errno() == EACCES || e.sys_errno() == EPERM)
        return kExitNotAuthorized;
    switch (e.code()) {
    case Code::NotFound:
        return kExitNotFound;
    case Code::Busy:
    case Code::Exists:
        return kExitRefused;
    case Code::Corrupt:
        return kExitDamaged;
    case Code::Failed:
    case Code::InvalidArgument:
    case Code::Io:
    case Code::NoSpace:
        return kExitFailed;
    }
    return kExitFailed;
}

} // namespace

int main(int argc, char **argv)
{
    // Options of dmremapctl itself, before the command (argv[1] stays the command).
    while (argc > 1 && std::strcmp(argv[1], "--no-ask-password") == 0) {
        PolkitAgent::forbid_asking();
        argv[1] = argv[0];
        argv++;
        argc--;
    }
    if (argc < 2) {
        usage(std::cerr);
        return kExitUsage;
    }
    const std::string name = argv[1];
    if (name == "-h" || name == "--help" || name == "help") {
        usage(std::cout);
        return kExitOk;
    }
    if (name == "--version") {
        std::cout << "dmremapctl " DMREMAP_VERSION "\n";
        return kExitOk;
    }
    for (const auto &c : commands) {
        if (name != c.name)
            continue;
        try {
            return c.run(argc, argv);
        } catch (const UsageError &e) {
            std::cerr << "dmremapctl " << e.what() << "\nTry 'dmremapctl " << name << " --help'.\n";
            return kExitUsage;
        } catch (const BusUnreachable &e) {
            std::cerr << "dmremapctl: cannot reach dm-remapd on the system bus (" << e.what()
                      << "); run as root to act directly\n";
            return kExitFailed;
        } catch (const NotAuthorized &e) {
            std::cerr << "dmremapctl " << prefix(argc, argv) << ": " << e.what() << "\n";
            return kExitNotAuthorized;
        } catch (const dmremap::Error &e) {
            std::cerr << "dmremapctl " << prefix(argc, argv) << ": " << e.what() << "\n";
            return exit_status(e);
        } catch (const std::exception &e) {
            std::cerr << "dmremapctl " << name << ": internal error: " << e.what() << "\n";
            return kExitFailed;
        }
    }
    std::cerr << "dmremapctl: unknown command '" << name << "'\n";
    usage(std::cerr);
    return kExitUsage;
}
