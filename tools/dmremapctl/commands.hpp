// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

namespace dmremap::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1; // also: check found damage
inline constexpr int kExitUsage = 2;  // also: check could not read a member

// Each takes the whole argv; argv[1] is the command name.
int cmd_format(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_table(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_list(int argc, char **argv);

} // namespace dmremap::cli
