// sluice: the engine binary. `sluice [EAL options] -- [engine options]`, as DPDK programs go.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "control/config/options.hpp"
#include "control/engine.hpp"
#include "drivers/eal.hpp"

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) {
    g_stop.store(true);
}

}  // namespace

int main(int argc, char** argv) {
    // The engine's own options come after "--"; check them first, so a typo is reported before EAL
    // spends time (and prints pages) starting up.
    int separator = argc;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0) {
            separator = i;
            break;
        }
    }
    std::vector<std::string> engine_args(argv + std::min(separator + 1, argc), argv + argc);
    for (const std::string& a : engine_args) {
        if (a == "-h" || a == "--help") {
            std::fputs(sluice::control::usage().c_str(), stdout);
            return 0;
        }
    }
    auto options = sluice::control::parse_options(engine_args);
    if (!options) {
        std::fprintf(stderr, "sluice: %s\n", options.error().c_str());
        return 2;
    }

    int consumed = 0;
    auto eal = sluice::drivers::Eal::init(separator, argv, consumed);
    if (!eal) {
        std::fprintf(stderr, "sluice: %s\n", eal.error().c_str());
        return 1;
    }
    if (consumed + 1 < separator) {
        std::fprintf(stderr,
                     "sluice: unexpected argument '%s' before '--' (engine options go "
                     "after '--'; see 'sluice -- --help')\n",
                     argv[consumed + 1]);
        return 2;
    }

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    int status = 0;
    {
        auto engine = sluice::control::Engine::start(*options);
        if (!engine) {
            std::fprintf(stderr, "sluice: %s\n", engine.error().c_str());
            status = 1;
        } else {
            std::printf("%s\n", (*engine)->ready_line().c_str());
            std::fflush(stdout);
            (*engine)->run(g_stop);
            std::printf("sluice: stopping\n");
            (*engine)->report(stdout);
            status = (*engine)->exit_status();
        }
    }
    return status;
}
