#include "bench/perf/orchestrator.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/perf/child_process.hpp"
#include "bench/perf/core_distance.hpp"
#include "bench/perf/protocol.hpp"
#include "bench/perf/results.hpp"
#include "bench/perf/sluice_load.hpp"
#include "bench/perf/veth_lab.hpp"

namespace sluice::perf {

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr std::string_view kRuntimePrefix = "sluice-perf-";
constexpr auto kServerReadyTimeout = std::chrono::seconds(30);
// Start-up (EAL, the memif handshake, ARP, the first connection) on top of warm-up and duration.
constexpr auto kClientSlack = std::chrono::seconds(45);
constexpr auto kStopGrace = std::chrono::seconds(10);

volatile sig_atomic_t g_interrupted = 0;

extern "C" void on_interrupt(int) {
    g_interrupted = 1;
}

void install_interrupt_handlers() {
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: a wait in poll() returns at once
    for (int s : {SIGINT, SIGTERM, SIGHUP})
        sigaction(s, &action, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

bool interrupted() {
    return g_interrupted != 0;
}

std::string self_path() {
    std::error_code error;
    const fs::path p = fs::read_symlink("/proc/self/exe", error);
    return error ? std::string("sluice-perf") : p.string();
}

std::string seconds_arg(std::chrono::nanoseconds d) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.9g", std::chrono::duration<double>(d).count());
    return buffer;
}

bool pid_alive(long pid) {
    return pid > 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH);
}

// "sluice-perf-<pid>-..." names of processes that are gone.
bool stale_name(const std::string& name) {
    if (!name.starts_with(kRuntimePrefix))
        return false;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + kRuntimePrefix.size(), &end, 10);
    return end != name.c_str() + kRuntimePrefix.size() && *end == '-' && !pid_alive(pid);
}

// EAL's runtime directories: root's, or a user's.
std::vector<fs::path> eal_runtime_roots() {
    std::vector<fs::path> roots{"/var/run/dpdk"};
    if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"))
        roots.emplace_back(fs::path(xdg) / "dpdk");
    roots.emplace_back("/tmp/dpdk");
    return roots;
}

// What a sluice-perf killed outright (SIGKILL, a crash) left behind.
void remove_leftovers() {
    VethLab::remove_leftovers();
    std::vector<fs::path> roots = eal_runtime_roots();
    roots.emplace_back("/tmp");
    for (const fs::path& root : roots) {
        std::error_code error;
        for (const auto& entry : fs::directory_iterator(root, error)) {
            if (stale_name(entry.path().filename().string()))
                fs::remove_all(entry.path(), error);
        }
    }
}

// The work directory (memif sockets, logs unless --log-dir, chart data); removed on the way out.
class WorkDirectory {
  public:
    WorkDirectory() {
        std::string pattern =
            "/tmp/" + std::string(kRuntimePrefix) + std::to_string(getpid()) + "-XXXXXX";
        if (mkdtemp(pattern.data()) != nullptr)
            path_ = pattern;
    }
    ~WorkDirectory() {
        std::error_code error;
        if (!path_.empty())
            fs::remove_all(path_, error);
    }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

std::string describe(const RunSpec& spec) {
    std::string text = std::string(workload_name(spec.load.workload)) + " over " +
                       std::string(stack_name(spec.stack));
    if (spec.load.workload == Workload::Stream && spec.stack != Stack::LinuxLoopback)
        text += ", MTU " + std::to_string(spec.load.mtu);
    return text;
}

std::string rate_text(Workload w, double rate) {
    char buffer[48];
    if (w == Workload::Stream) {
        std::snprintf(buffer, sizeof buffer, "%.2f Gbit/s", rate * 8 / 1e9);
        return buffer;
    }
    return human_number(rate) + (w == Workload::Crr ? " conn/s" : " trans/s");
}

class ProgressLine {
  public:
    ProgressLine() : tty_(isatty(STDERR_FILENO) != 0) {}

    void show(const std::string& text) {
        if (tty_) {
            std::fprintf(stderr, "\r\033[K%s", text.c_str());
            std::fflush(stderr);
            return;
        }
        // Into a log: a line a second is plenty.
        const Clock::time_point now = Clock::now();
        if (now - last_ < std::chrono::seconds(1))
            return;
        last_ = now;
        std::fprintf(stderr, "%s\n", text.c_str());
    }
    void finish(const std::string& text) {
        std::fprintf(stderr, tty_ ? "\r\033[K%s\n" : "%s\n", text.c_str());
        std::fflush(stderr);
        last_ = Clock::time_point{};
    }

  private:
    bool tty_;
    Clock::time_point last_{};
};

class Orchestrator {
  public:
    Orchestrator(const PerfOptions& options, const std::string& work_dir,
                 const std::string& log_dir, VethLab* lab)
        : options_(options),
          work_dir_(work_dir),
          log_dir_(log_dir),
          lab_(lab),
          self_(self_path()) {}

    std::vector<RunSpec> plan() const {
        std::vector<RunSpec> specs;
        for (Workload w : options_.workloads) {
            const std::vector<std::uint16_t> mtus =
                w == Workload::Stream ? options_.mtus
                                      : std::vector<std::uint16_t>{options_.mtus.front()};
            for (std::uint16_t mtu : mtus) {
                for (Stack s : options_.stacks) {
                    // Loopback keeps its own MTU: one stream run is enough.
                    if (s == Stack::LinuxLoopback && mtu != mtus.front())
                        continue;
                    RunSpec spec;
                    spec.stack = s;
                    spec.load = options_.load;
                    spec.load.workload = w;
                    spec.load.mtu = mtu;
                    spec.load.connections = w == Workload::Crr      ? options_.crr_connections
                                            : w == Workload::Stream ? options_.stream_connections
                                                                    : options_.load.connections;
                    specs.push_back(spec);
                }
            }
        }
        return specs;
    }

    RunOutcome run(const RunSpec& spec, std::size_t index, std::size_t total) {
        char counter[32];
        std::snprintf(counter, sizeof counter, "[%2zu/%zu] ", index + 1, total);
        label_ = counter + describe(spec);
        RunOutcome outcome;
        // The hypervisor may have put the two vCPUs far apart, for the whole run or part of it:
        // measured on both sides of the run, and the run made again when either says so.
        for (unsigned attempt = 1;; ++attempt) {
            progress_.show(label_ + ": starting");
            const auto before = measure_distance();
            outcome = run_pair(spec, index);
            cleanup_runtime(index);
            const auto after = measure_distance();
            outcome.round_trip_before_ns = before;
            outcome.round_trip_after_ns = after;
            outcome.attempts = attempt;
            const bool far = nearest_ns_ && run_cores_far_apart(before, after, *nearest_ns_);
            if (!outcome.ok || !far || attempt > options_.placement_retries || interrupted())
                break;
            char text[160];
            std::snprintf(text, sizeof text,
                          ": the cores were far apart (a round trip of %.0f ns before, %.0f ns "
                          "after; the nearest seen is %.0f): running it again",
                          before.value_or(0), after.value_or(0), *nearest_ns_);
            progress_.finish(label_ + text);
        }
        if (outcome.ok) {
            std::string summary =
                label_ + ": " +
                rate_text(spec.load.workload, outcome.client->number("rate").value_or(0));
            if (const auto p50 = outcome.client->number("p50"))
                summary += ", p50 " + human_number(*p50 / 1000) + " us";
            progress_.finish(summary);
        } else {
            progress_.finish(label_ + ": FAILED: " + first_line(outcome.failure));
        }
        return outcome;
    }

    // The shortest round trip between the two cores measured so far.
    std::optional<double> nearest_round_trip_ns() const { return nearest_ns_; }

  private:
    std::optional<double> measure_distance() {
        // The least of three, 50 ms apart: right after a run the kernel is still tearing its
        // processes down on one core or the other, which slows a probe for a millisecond or two,
        // while a far placement lasts seconds at least.
        std::optional<double> ns;
        for (int i = 0; i < 3; ++i) {
            if (i > 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            const auto probe = core_round_trip_ns(options_.server_core, options_.client_core);
            if (probe && (!ns || *probe < *ns))
                ns = probe;
        }
        if (ns && (!nearest_ns_ || *ns < *nearest_ns_))
            nearest_ns_ = ns;
        return ns;
    }

    static std::string first_line(const std::string& text) {
        return text.substr(0, text.find('\n'));
    }

    std::string eal_prefix(std::size_t index, const char* side) const {
        return std::string(kRuntimePrefix) + std::to_string(getpid()) + "-" +
               std::to_string(index) + "-" + side;
    }
    std::string memif_socket(std::size_t index) const {
        return work_dir_ + "/memif-" + std::to_string(index) + ".sock";
    }
    std::string log_path(const RunSpec& spec, std::size_t index, const char* side) const {
        std::string name = "run" + std::to_string(index + 1) + "-" +
                           std::string(workload_name(spec.load.workload)) + "-" +
                           std::string(stack_name(spec.stack)) + "-mtu" +
                           std::to_string(spec.load.mtu) + "-" + side + ".log";
        return log_dir_ + "/" + name;
    }

    std::vector<std::string> side_args(const RunSpec& spec, std::size_t index, Role role,
                                       std::uint16_t server_port) const {
        const bool server = role == Role::Server;
        std::vector<std::string> args;
        if (spec.stack == Stack::LinuxVeth) {
            args = {"ip", "netns", "exec",
                    server ? lab_->server_namespace() : lab_->client_namespace()};
        }
        const LoadParams& p = spec.load;
        const std::vector<std::string> common = {
            self_,
            "--role",
            server ? "server" : "client",
            "--stack",
            std::string(stack_name(spec.stack)),
            "--workload",
            std::string(workload_name(p.workload)),
            "--connections",
            std::to_string(p.connections),
            "--size",
            std::to_string(p.size),
            "--pipeline",
            std::to_string(p.pipeline),
            "--write-size",
            std::to_string(p.write_size),
            "--mtu",
            std::to_string(p.mtu),
            "--warmup",
            seconds_arg(p.warmup),
            "--duration",
            seconds_arg(p.duration),
            "--core",
            std::to_string(server ? options_.server_core : options_.client_core),
        };
        args.insert(args.end(), common.begin(), common.end());
        if (spec.stack == Stack::Sluice) {
            args.insert(args.end(), {"--memif-socket", memif_socket(index), "--eal-prefix",
                                     eal_prefix(index, server ? "s" : "c"), "--memory",
                                     std::to_string(options_.eal_memory_mb), "--sluice-checksums",
                                     std::string(tcp_checksums_name(options_.sluice_checksums))});
            if (options_.sluice_buffer != 0)
                args.insert(args.end(),
                            {"--sluice-buffer", std::to_string(options_.sluice_buffer)});
        } else {
            const std::string address =
                spec.stack == Stack::LinuxVeth ? VethLab::kServerAddress : "127.0.0.1";
            if (server) {
                args.insert(args.end(), {"--listen", address + ":0"});
            } else {
                args.insert(args.end(), {"--connect", address + ":" + std::to_string(server_port)});
            }
        }
        if (server) {
            args.insert(args.end(), {"--lifetime", seconds_arg(p.warmup + p.duration +
                                                               std::chrono::seconds(120))});
        }
        return args;
    }

    RunOutcome run_pair(const RunSpec& spec, std::size_t index) {
        RunOutcome outcome;
        const auto fail = [&](std::string why) {
            outcome.ok = false;
            outcome.failure = std::move(why);
            return outcome;
        };
        if (spec.stack == Stack::LinuxVeth) {
            if (auto st = lab_->set_mtu(spec.load.mtu); !st)
                return fail(st.error());
        }
        const std::string server_log = log_path(spec, index, "server");
        const std::string client_log = log_path(spec, index, "client");

        auto spawned_server =
            ChildProcess::spawn(side_args(spec, index, Role::Server, 0), server_log);
        if (!spawned_server)
            return fail("cannot start the server: " + spawned_server.error());
        ChildProcess& server = **spawned_server;

        // The server says "ready port=N" once it listens.
        std::optional<std::uint16_t> port;
        const Clock::time_point ready_deadline = Clock::now() + kServerReadyTimeout;
        while (!port) {
            if (interrupted())
                return fail("interrupted");
            if (auto line = server.read_line(std::chrono::milliseconds(200))) {
                const auto m = parse_message(*line);
                if (m && m->kind == "ready")
                    port = static_cast<std::uint16_t>(m->number("port").value_or(0));
            } else if (server.closed_output()) {
                const auto status = server.wait(std::chrono::seconds(5));
                return fail("the server exited before it was ready (status " +
                            std::to_string(status.value_or(-1)) + "); its log ends:\n" +
                            tail_of_file(server_log, 15));
            } else if (Clock::now() >= ready_deadline) {
                return fail("the server was not ready within 30 s; its log ends:\n" +
                            tail_of_file(server_log, 15));
            }
        }

        auto spawned_client =
            ChildProcess::spawn(side_args(spec, index, Role::Client, *port), client_log);
        if (!spawned_client)
            return fail("cannot start the client: " + spawned_client.error());
        ChildProcess& client = **spawned_client;

        const auto run_time = spec.load.warmup + spec.load.duration;
        const Clock::time_point client_deadline =
            Clock::now() + std::chrono::duration_cast<Clock::duration>(run_time) + kClientSlack;
        std::optional<std::chrono::nanoseconds> server_cpu_at_open;
        Clock::time_point window_opened{};
        while (!outcome.client) {
            if (interrupted())
                return fail("interrupted");
            auto line = client.read_line(std::chrono::milliseconds(200));
            if (!line) {
                if (client.closed_output())
                    break;
                if (Clock::now() >= client_deadline) {
                    return fail("the client did not finish within " +
                                std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                   run_time + kClientSlack)
                                                   .count()) +
                                " s; its log ends:\n" + tail_of_file(client_log, 15));
                }
                continue;
            }
            const auto m = parse_message(*line);
            if (!m)
                continue;
            if (m->kind == "progress") {
                const bool measuring = m->text("phase") == "measure";
                if (measuring && !server_cpu_at_open) {
                    // The window has just opened: the server's CPU time from here, and a mark
                    // for a Sluice server's own busy count (SIGUSR1).
                    server_cpu_at_open = process_cpu_time(server.pid());
                    window_opened = Clock::now();
                    server.send_signal(SIGUSR1);
                }
                show_progress(spec, *m);
            } else if (m->kind == "result") {
                server.send_signal(SIGUSR1);
                const auto cpu_now = process_cpu_time(server.pid());
                const double wall =
                    std::chrono::duration<double>(Clock::now() - window_opened).count();
                if (server_cpu_at_open && cpu_now && wall > 0) {
                    outcome.server_cpu_percent =
                        100.0 *
                        std::chrono::duration<double>(*cpu_now - *server_cpu_at_open).count() /
                        wall;
                }
                outcome.client = *m;
            }
        }
        // The server stops first: a Sluice client keeps its end of the memif link up, unpolled,
        // until the server has stopped polling (sluice_load.cpp). A Linux client has already
        // exited. The server's last line has its counters.
        server.send_signal(SIGTERM);
        const Clock::time_point server_deadline = Clock::now() + kStopGrace;
        while (Clock::now() < server_deadline) {
            auto line = server.read_line(std::chrono::milliseconds(200));
            if (!line) {
                if (server.closed_output())
                    break;
                continue;
            }
            const auto m = parse_message(*line);
            if (m && m->kind == "server")
                outcome.server = *m;
        }
        server.stop(std::chrono::seconds(2));
        outcome.server_exit = server.wait(std::chrono::seconds(0));
        client.stop(kStopGrace);
        const auto client_status = client.wait(std::chrono::seconds(0));

        if (!outcome.client) {
            return fail("the client ended without a result (status " +
                        std::to_string(client_status.value_or(-1)) + "); its log ends:\n" +
                        tail_of_file(client_log, 15) + "the server's log ends:\n" +
                        tail_of_file(server_log, 10));
        }
        outcome.ok = true;
        return outcome;
    }

    void show_progress(const RunSpec& spec, const Message& m) {
        const double elapsed = m.number("elapsed").value_or(0);
        const double warmup = std::chrono::duration<double>(spec.load.warmup).count();
        const double duration = std::chrono::duration<double>(spec.load.duration).count();
        char text[160];
        if (m.text("phase") == "warmup") {
            std::snprintf(text, sizeof text, ": warm-up %.1f/%.1f s, ", elapsed, warmup);
        } else {
            std::snprintf(text, sizeof text, ": measuring %.1f/%.1f s, ",
                          std::max(0.0, elapsed - warmup), duration);
        }
        progress_.show(label_ + text + rate_text(spec.load.workload, m.number("rate").value_or(0)));
    }

    void cleanup_runtime(std::size_t index) {
        std::error_code error;
        fs::remove(memif_socket(index), error);
        for (const fs::path& root : eal_runtime_roots()) {
            for (const char* side : {"s", "c"})
                fs::remove_all(root / eal_prefix(index, side), error);
        }
    }

    const PerfOptions& options_;
    std::string work_dir_;
    std::string log_dir_;
    VethLab* lab_;
    std::string self_;
    std::string label_;
    ProgressLine progress_;
    std::optional<double> nearest_ns_;
};

bool wants(const PerfOptions& o, Stack s) {
    for (Stack x : o.stacks) {
        if (x == s)
            return true;
    }
    return false;
}

bool on_path(const char* program) {
    const char* path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        const std::size_t colon = dirs.find(':', start);
        const std::string dir = dirs.substr(start, colon - start);
        if (!dir.empty() && access((dir + "/" + program).c_str(), X_OK) == 0)
            return true;
        if (colon == std::string::npos)
            break;
        start = colon + 1;
    }
    return false;
}

}  // namespace

int run_orchestrator(const PerfOptions& options, int argc, char** argv) {
    if (wants(options, Stack::LinuxVeth) && geteuid() != 0) {
        std::fprintf(stderr,
                     "sluice-perf: --stacks linux-veth needs root (it creates network "
                     "namespaces): run as root, or leave linux-veth out of --stacks\n");
        return 2;
    }
    if (wants(options, Stack::LinuxVeth) && !on_path("ip")) {
        std::fprintf(stderr,
                     "sluice-perf: --stacks linux-veth needs the 'ip' command "
                     "(apt-get install iproute2)\n");
        return 2;
    }
    std::optional<std::string> chart = options.chart_path;
    if (chart && !on_path("gnuplot")) {
        std::fprintf(stderr,
                     "sluice-perf: gnuplot is not installed (apt-get install gnuplot-nox): "
                     "no chart this time\n");
        chart.reset();
    }

    install_interrupt_handlers();
    remove_leftovers();
    RunContext context = describe_machine(argc, argv);

    int status = 0;
    std::vector<Run> runs;
    {
        WorkDirectory work;
        if (work.path().empty()) {
            std::fprintf(stderr, "sluice-perf: cannot create a work directory in /tmp: %s\n",
                         std::strerror(errno));
            return 2;
        }
        std::string log_dir = work.path();
        if (options.log_dir) {
            std::error_code error;
            fs::create_directories(*options.log_dir, error);
            if (error) {
                std::fprintf(stderr, "sluice-perf: --log-dir %s: %s\n", options.log_dir->c_str(),
                             error.message().c_str());
                return 2;
            }
            log_dir = *options.log_dir;
        }
        std::unique_ptr<VethLab> lab;
        if (wants(options, Stack::LinuxVeth)) {
            auto made = VethLab::create();
            if (!made) {
                std::fprintf(stderr, "sluice-perf: %s\n", made.error().c_str());
                return 2;
            }
            lab = std::move(made.value());
        }

        Orchestrator orchestrator(options, work.path(), log_dir, lab.get());
        const std::vector<RunSpec> specs = orchestrator.plan();
        const double per_run =
            std::chrono::duration<double>(options.load.warmup + options.load.duration).count();
        std::fprintf(stderr,
                     "sluice-perf: %zu runs of %.1f s each (plus start-up); servers on core "
                     "%u, clients on core %u\n",
                     specs.size(), per_run, options.server_core, options.client_core);
        for (std::size_t i = 0; i < specs.size() && !interrupted(); ++i)
            runs.push_back(Run{specs[i], orchestrator.run(specs[i], i, specs.size())});

        if (interrupted()) {
            std::fprintf(stderr, "sluice-perf: interrupted; cleaning up\n");
            return 130;  // the lab and the work directory go on the way out
        }
        context.nearest_round_trip_ns = orchestrator.nearest_round_trip_ns();
        const std::vector<Row> rows = build_rows(options, runs);
        print_table(stdout, options, context, rows, runs);
        if (auto st = write_json(options.json_path, options, context, rows, runs); !st) {
            std::fprintf(stderr, "sluice-perf: %s\n", st.error().c_str());
            status = 1;
        } else {
            std::printf("\nJSON: %s\n", options.json_path.c_str());
        }
        if (chart) {
            if (auto st = draw_chart(*chart, work.path(), options, rows); !st) {
                std::fprintf(stderr, "sluice-perf: chart: %s\n", st.error().c_str());
                status = 1;
            } else {
                std::printf("chart: %s\n", chart->c_str());
            }
        }
    }
    for (const Run& r : runs) {
        if (!r.outcome.ok)
            status = 1;
    }
    return status;
}

}  // namespace sluice::perf
