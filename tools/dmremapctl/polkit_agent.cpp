// SPDX-License-Identifier: GPL-2.0-or-later
// After systemd's src/shared/polkit-agent.c: fork, exec pkttyagent with
// --notify-fd, wait until it closes that fd (it has registered), kill it
// when done.
#include "polkit_agent.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace dmremap::cli {
namespace {

bool asking_forbidden = false;

// A registration takes milliseconds; a polkitd that does not answer must
// not hang dmremapctl before its own call (which polkit would then refuse).
constexpr int kRegisterTimeoutMs = 25000;

// The first regular executable file NAME in the directories of $PATH
// (empty elements, the working directory, are skipped), or "".
std::string find_in_path(const char *name)
{
    const char *env = std::getenv("PATH");
    const std::string path = env ? env : "/usr/local/bin:/usr/bin:/bin";
    std::string::size_type start = 0;
    for (;;) {
        const auto end = path.find(':', start);
        const std::string dir = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (!dir.empty()) {
            const std::string full = dir + "/" + name;
            struct stat st;
            if (::stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(full.c_str(), X_OK) == 0)
                return full;
        }
        if (end == std::string::npos)
            return "";
        start = end + 1;
    }
}

// In the child, between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_agent(const char *const argv[], int notify_fd, pid_t parent)
{
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent)
        ::_exit(0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // The agent talks to the terminal stdin is, not into our redirected
    // output (dmremapctl --json ... > file).
    if (!::isatty(STDOUT_FILENO) || !::isatty(STDERR_FILENO)) {
        const int tty = ::open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (tty >= 0) {
            if (!::isatty(STDOUT_FILENO))
                ::dup2(tty, STDOUT_FILENO);
            if (!::isatty(STDERR_FILENO))
                ::dup2(tty, STDERR_FILENO);
        }
    }
    // Nothing of ours but stdio and the notify fd (the bus connection stays here).
    ::close_range(3, notify_fd - 1, 0);
    ::close_range(notify_fd + 1, ~0U, 0);
    ::fcntl(notify_fd, F_SETFD, 0);
    ::execv(argv[0], const_cast<char *const *>(argv));
    ::_exit(127);
}

} // namespace

void PolkitAgent::forbid_asking() noexcept { asking_forbidden = true; }

bool PolkitAgent::may_ask() noexcept { return !asking_forbidden && ::isatty(STDIN_FILENO); }

void PolkitAgent::start()
{
    if (tried_)
        return;
    tried_ = true;
    // Root is never asked; without a terminal there is nobody to type.
    if (!may_ask() || ::geteuid() == 0)
        return;
    const std::string exe = find_in_path("pkttyagent");
    if (exe.empty())
        return;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        return;
    if (fds[0] <= STDERR_FILENO || fds[1] <= STDERR_FILENO) { // stdio closed: the agent's would clash
        ::close(fds[0]);
        ::close(fds[1]);
        return;
    }
    const pid_t self = ::getpid();
    const std::string notify = std::to_string(fds[1]), process = std::to_string(self);
    const char *const argv[] = {exe.c_str(), "--notify-fd", notify.c_str(), "--fallback", "--process",
                                process.c_str(), nullptr};
    const pid_t pid = ::fork();
    if (pid == 0)
        exec_agent(argv, fds[1], self);
    ::close(fds[1]);
    if (pid < 0) {
        ::close(fds[0]);
        return;
    }
    pid_ = pid;
    // Registered, or gone (exec failed, polkit refused the agent): either
    // way the fd is closed and the call can go.
    pollfd p{fds[0], POLLIN, 0};
    char c;
    for (;;) {
        const int n = ::poll(&p, 1, kRegisterTimeoutMs);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (p.revents & (POLLHUP | POLLERR)) || ::read(fds[0], &c, 1) <= 0)
            break;
    }
    ::close(fds[0]);
}

PolkitAgent::~PolkitAgent()
{
    if (pid_ <= 0)
        return;
    ::kill(pid_, SIGTERM);
    ::kill(pid_, SIGCONT);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
}

} // namespace dmremap::cli
