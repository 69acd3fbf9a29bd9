#include "bench/perf/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <thread>

namespace sluice::perf {

namespace {

using Clock = std::chrono::steady_clock;

std::optional<int> decode_status(int status) {
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return std::nullopt;
}

// After fork, in the child: only async-signal-safe calls until exec.
[[noreturn]] void exec_child(char* const* args, int stdout_fd, int stderr_fd, pid_t parent) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(126);  // the orchestrator died before the line above took effect
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0)
        dup2(null_fd, STDIN_FILENO);
    dup2(stdout_fd, STDOUT_FILENO);
    dup2(stderr_fd, STDERR_FILENO);
    // The parent blocks nothing we need, but a signal it ignores would stay ignored across exec.
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    execvp(args[0], args);
    const char* message = "sluice-perf: cannot execute ";
    (void)!write(STDERR_FILENO, message, std::strlen(message));
    (void)!write(STDERR_FILENO, args[0], std::strlen(args[0]));
    (void)!write(STDERR_FILENO, "\n", 1);
    _exit(127);
}

}  // namespace

Result<std::unique_ptr<ChildProcess>, std::string> ChildProcess::spawn(
    const std::vector<std::string>& argv, const std::string& stderr_path) {
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0)
        return Unexpected{std::string("pipe: ") + std::strerror(errno)};
    const int stderr_fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (stderr_fd < 0) {
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        return Unexpected{"cannot create " + stderr_path + ": " + std::strerror(errno)};
    }
    // Built before fork: the child may only make async-signal-safe calls.
    std::vector<char*> args;
    for (const std::string& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        close(stderr_fd);
        return Unexpected{std::string("fork: ") + std::strerror(errno)};
    }
    if (pid == 0)
        exec_child(args.data(), pipe_fds[1], stderr_fd, parent);
    close(pipe_fds[1]);
    close(stderr_fd);
    std::unique_ptr<ChildProcess> child(new ChildProcess());
    child->pid_ = pid;
    child->stdout_fd_ = pipe_fds[0];
    return child;
}

ChildProcess::~ChildProcess() {
    if (pid_ > 0 && !status_) {
        kill(pid_, SIGKILL);
        (void)wait(std::chrono::seconds(5));
    }
    if (stdout_fd_ >= 0)
        close(stdout_fd_);
}

std::optional<std::string> ChildProcess::read_line(std::chrono::milliseconds timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    for (;;) {
        if (const std::size_t newline = buffer_.find('\n'); newline != std::string::npos) {
            std::string line = buffer_.substr(0, newline);
            buffer_.erase(0, newline + 1);
            return line;
        }
        if (eof_) {
            if (buffer_.empty())
                return std::nullopt;
            std::string line = std::move(buffer_);  // a last line without its newline
            buffer_.clear();
            return line;
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
            return std::nullopt;
        pollfd p{stdout_fd_, POLLIN, 0};
        const int ready = poll(&p, 1, static_cast<int>(left.count()));
        if (ready < 0)
            return std::nullopt;  // a signal: the caller looks at why
        if (ready == 0)
            return std::nullopt;
        char chunk[4096];
        const ssize_t n = read(stdout_fd_, chunk, sizeof chunk);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                return std::nullopt;
            eof_ = true;
            continue;
        }
        buffer_.append(chunk, static_cast<std::size_t>(n));
    }
}

void ChildProcess::send_signal(int signal_number) const {
    if (pid_ > 0 && !status_)
        kill(pid_, signal_number);
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
    if (status_)
        return status_;
    const Clock::time_point deadline = Clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            status_ = decode_status(status).value_or(1);
            return status_;
        }
        if (r < 0 && errno != EINTR) {
            status_ = 1;  // not ours any more (cannot happen); do not wait forever
            return status_;
        }
        if (Clock::now() >= deadline)
            return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

void ChildProcess::stop(std::chrono::milliseconds grace) {
    if (status_)
        return;
    send_signal(SIGTERM);
    if (wait(grace))
        return;
    send_signal(SIGKILL);
    (void)wait(std::chrono::seconds(5));
}

Status<std::string> run_command(const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout) {
    char path[] = "/tmp/sluice-perf-command-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0)
        return Unexpected{std::string("mkstemp: ") + std::strerror(errno)};
    close(fd);
    std::string command;
    for (const std::string& a : argv)
        command += (command.empty() ? "" : " ") + a;
    auto child = ChildProcess::spawn(argv, path);
    if (!child) {
        unlink(path);
        return Unexpected{command + ": " + child.error()};
    }
    // Its stdout is of no interest; read it so that it never blocks on a full pipe.
    std::string output;
    std::optional<int> status;
    const Clock::time_point deadline = Clock::now() + timeout;
    while (!(status = (*child)->wait(std::chrono::milliseconds(0)))) {
        if (auto line = (*child)->read_line(std::chrono::milliseconds(20)))
            output += *line + "\n";
        if (Clock::now() >= deadline) {
            (*child)->stop(std::chrono::seconds(1));
            unlink(path);
            return Unexpected{command + ": still running after " +
                              std::to_string(timeout.count() / 1000) + " s"};
        }
    }
    output += tail_of_file(path, 20);
    unlink(path);
    if (*status != 0) {
        while (!output.empty() && output.back() == '\n')
            output.pop_back();
        return Unexpected{command + " failed (status " + std::to_string(*status) + ")" +
                          (output.empty() ? "" : ": " + output)};
    }
    return {};
}

std::optional<std::chrono::nanoseconds> process_cpu_time(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(in, text))
        return std::nullopt;
    // The command name (field 2) may hold spaces; the fields after its ')' are plain numbers.
    const std::size_t close_paren = text.rfind(')');
    if (close_paren == std::string::npos)
        return std::nullopt;
    std::vector<std::string> fields;
    std::size_t i = close_paren + 2;
    while (i < text.size()) {
        const std::size_t space = text.find(' ', i);
        fields.push_back(text.substr(i, space - i));
        if (space == std::string::npos)
            break;
        i = space + 1;
    }
    // Fields 14 and 15 of proc(5) (utime, stime) are the 12th and 13th after the name.
    if (fields.size() < 13)
        return std::nullopt;
    const long ticks_per_second = sysconf(_SC_CLK_TCK);
    const double ticks = std::stod(fields[11]) + std::stod(fields[12]);
    return std::chrono::nanoseconds(
        static_cast<std::int64_t>(ticks * 1e9 / static_cast<double>(ticks_per_second)));
}

std::string tail_of_file(const std::string& path, std::size_t lines) {
    std::ifstream in(path);
    std::deque<std::string> last;
    std::string line;
    while (std::getline(in, line)) {
        last.push_back(line);
        if (last.size() > lines)
            last.pop_front();
    }
    std::string text;
    for (const std::string& l : last)
        text += l + "\n";
    return text;
}

}  // namespace sluice::perf
