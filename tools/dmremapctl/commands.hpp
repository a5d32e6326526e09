// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <scan_schedule.hpp>
#include <target_status.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace dmremap::cli {

// Exit statuses (dmremapctl(8), EXIT STATUS); main.cpp maps errors to them.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;        // anything below does not cover
inline constexpr int kExitUsage = 2;         // bad command line
inline constexpr int kExitNotFound = 3;      // no such device, file, set or member
inline constexpr int kExitRefused = 4;       // in use, mounted, busy, already there
inline constexpr int kExitNotAuthorized = 5; // polkit or permissions said no
inline constexpr int kExitDamaged = 6;       // check found damage; metadata too damaged to use
inline constexpr int kExitHealthWarning = 7; // health --check: a device is in state warning
inline constexpr int kExitHealthFailing = 8; // health --check: a device is in state failing

// Each takes the whole argv; argv[1] is the command name.
int cmd_format(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_assemble(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_members(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_table(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_spare(int argc, char **argv);
int cmd_replace(int argc, char **argv);
int cmd_remap(int argc, char **argv);
int cmd_remaps(int argc, char **argv);
int cmd_pending(int argc, char **argv);
int cmd_health(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_schedule(int argc, char **argv);

// --scan-schedule of create, validated (a usage error when systemd refuses it).
std::optional<ScanScheduleSpec> scan_schedule_option(const class Args &a);

// Per-member spare use, as status and spare list show it.
nlohmann::json spares_json(const std::vector<SpareStat> &spares);
void print_spares(const std::vector<SpareStat> &spares, const std::string &indent);

} // namespace dmremap::cli
