// The orchestrator's children: a server or client of one run (stdout read line by line, stderr to
// a log file), and short commands (`ip ...`) whose output is only wanted when they fail.
//
// A child gets its own process group (a terminal's Ctrl-C reaches only the orchestrator, which
// then stops its children in order) and SIGTERM as its parent-death signal (if the orchestrator is
// killed outright, its children stop and clean up by themselves).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sluice/result.hpp>

namespace sluice::perf {

class ChildProcess {
  public:
    // argv[0] is looked up on the PATH. stderr goes to `stderr_path`.
    static Result<std::unique_ptr<ChildProcess>, std::string> spawn(
        const std::vector<std::string>& argv, const std::string& stderr_path);
    // Kills (SIGKILL) and reaps a child that is still running.
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    // The next whole line of its stdout, waiting up to `timeout`; nothing on timeout, on EOF (see
    // closed_output()) or when a signal interrupted the wait.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout);
    bool closed_output() const { return eof_ && buffer_.empty(); }
    void send_signal(int signal_number) const;
    // Waits up to `timeout` for it to exit; its exit status (128 + signal when killed by one).
    std::optional<int> wait(std::chrono::milliseconds timeout);
    // SIGTERM, then SIGKILL after `grace`; reaps it.
    void stop(std::chrono::milliseconds grace);

  private:
    ChildProcess() = default;

    pid_t pid_ = -1;
    int stdout_fd_ = -1;
    std::string buffer_;
    bool eof_ = false;
    std::optional<int> status_;
};

// Runs a command to completion (at most `timeout`); its combined output in the error when it fails.
Status<std::string> run_command(const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout = std::chrono::seconds(30));

// User plus system CPU time of a process so far (from /proc); nothing when it is gone.
std::optional<std::chrono::nanoseconds> process_cpu_time(pid_t pid);

// The last `lines` lines of a text file, for failure messages.
std::string tail_of_file(const std::string& path, std::size_t lines);

}  // namespace sluice::perf
