// sluice::Application (sluice/application.hpp): what every program on Sluice does in main(),
// the `sluice` binary included.
#include <sluice/application.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <vector>

#include "control/builtin_services.hpp"
#include "control/config/options.hpp"
#include "control/engine.hpp"
#include "control/service_registry.hpp"
#include "drivers/eal.hpp"

namespace sluice {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) {
    g_stop.store(true);
}

// The index of the first "--" at or after `from`, or argc when there is none: EAL's options end
// at the first, the engine's at the second, and the program's own follow it.
int next_separator(int argc, char** argv, int from) {
    for (int i = from; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0)
            return i;
    }
    return argc;
}

}  // namespace

struct Application::State {
    std::string name;
    std::string help;
    // Filled by run(); the built-in services' factories read it when they run, after parsing.
    control::EngineOptions options;
    control::ServiceRegistry services;
    control::EngineProgram program;
};

Application::Application(std::string name) : state_(std::make_unique<State>()) {
    state_->name = std::move(name);
    control::register_builtin_services(state_->services, state_->options);
}

Application::~Application() = default;

Status<std::string> Application::add_service(std::string name, std::string summary,
                                             ServiceFactory factory) {
    return state_->services.add(std::move(name), std::move(summary), std::move(factory));
}

void Application::on_worker_start(std::function<void(WorkerContext&)> hook) {
    if (hook)
        state_->program.start_hooks.push_back(std::move(hook));
}

void Application::set_help(std::string text) {
    state_->help = std::move(text);
}

std::vector<std::string> Application::program_arguments(int argc, char** argv) {
    const int second = next_separator(argc, argv, next_separator(argc, argv, 1) + 1);
    return std::vector<std::string>(argv + std::min(second + 1, argc), argv + argc);
}

int Application::run(int argc, char** argv) {
    State& s = *state_;
    const char* me = s.name.c_str();
    // The engine's own options come after "--"; check them first, so a typo is reported before
    // EAL spends time (and prints pages) starting up.
    const int separator = next_separator(argc, argv, 1);
    const int program_separator = next_separator(argc, argv, separator + 1);
    std::vector<std::string> engine_args(argv + std::min(separator + 1, argc),
                                         argv + program_separator);
    for (const std::string& a : engine_args) {
        if (a == "-h" || a == "--help") {
            std::string text = control::usage(s.name) + "\n" + s.services.usage();
            if (!s.help.empty())
                text += "\n" + s.help + (s.help.back() == '\n' ? "" : "\n");
            std::fputs(text.c_str(), stdout);
            return 0;
        }
    }
    auto options = control::parse_options(engine_args, s.services.names());
    if (!options) {
        std::fprintf(stderr, "%s: %s\n", me, options.error().c_str());
        return 2;
    }
    s.options = std::move(options.value());

    int consumed = 0;
    auto eal = drivers::Eal::init(separator, argv, consumed);
    if (!eal) {
        std::fprintf(stderr, "%s: %s\n", me, eal.error().c_str());
        return 1;
    }
    if (consumed + 1 < separator) {
        std::fprintf(stderr,
                     "%s: unexpected argument '%s' before '--' (engine options go after '--'; "
                     "see '%s -- --help')\n",
                     me, argv[consumed + 1], me);
        return 2;
    }

    g_stop.store(false);
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    int status = 0;
    {
        s.program.services = &s.services;
        auto engine = control::Engine::start(s.options, s.program);
        if (!engine) {
            std::fprintf(stderr, "%s: %s\n", me, engine.error().c_str());
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

}  // namespace sluice
