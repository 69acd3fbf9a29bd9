// sluice-perf: the end-to-end load tool (bench/perf/README.md). Without --role it is the
// orchestrator that runs everything; with --role server or --role client it is one side of one run.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/perf/linux_load.hpp"
#include "bench/perf/orchestrator.hpp"
#include "bench/perf/perf_options.hpp"
#include "bench/perf/sluice_load.hpp"

namespace {

std::atomic<bool> g_stop{false};
std::atomic<unsigned> g_window_marks{0};

extern "C" void on_stop(int) {
    g_stop.store(true);
}
extern "C" void on_mark(int) {
    g_window_marks.fetch_add(1);
}

void install_side_handlers() {
    struct sigaction action {};
    sigemptyset(&action.sa_mask);
    action.sa_handler = on_stop;
    for (int s : {SIGINT, SIGTERM, SIGHUP})
        sigaction(s, &action, nullptr);
    // SIGUSR1 marks the window's edges for a server; harmless for everyone else. Installed before
    // anything can send it, since its default action would end the process.
    action.sa_handler = on_mark;
    action.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &action, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

}  // namespace

int main(int argc, char** argv) {
    using namespace sluice::perf;
    const std::vector<std::string> args(argv + 1, argv + argc);
    auto options = parse_perf_options(args);
    if (!options) {
        std::fprintf(stderr, "sluice-perf: %s\n", options.error().c_str());
        return 2;
    }
    if (options->help) {
        std::fputs(perf_usage().c_str(), stdout);
        return 0;
    }
    if (options->role == Role::Orchestrator)
        return run_orchestrator(*options, argc, argv);

    install_side_handlers();
    const bool sluice = options->stack == Stack::Sluice;
    if (options->role == Role::Server) {
        return sluice ? run_sluice_server(*options, g_stop, g_window_marks)
                      : run_linux_server(*options, g_stop);
    }
    return sluice ? run_sluice_client(*options, g_stop) : run_linux_client(*options, g_stop);
}
