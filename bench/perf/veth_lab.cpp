#include "bench/perf/veth_lab.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "bench/perf/child_process.hpp"

namespace sluice::perf {

namespace {

constexpr std::string_view kNamespacePrefix = "sluice-perf-";

// Labs alive in this process, for the atexit handler.
std::set<VethLab*>& live_labs() {
    static std::set<VethLab*> labs;
    return labs;
}

void quiet(const std::vector<std::string>& argv) {
    (void)run_command(argv, std::chrono::seconds(20));
}

}  // namespace

Result<std::unique_ptr<VethLab>, std::string> VethLab::create() {
    static const bool registered = [] {
        std::atexit([] {
            // Copy: remove() unregisters.
            const std::set<VethLab*> labs = live_labs();
            for (VethLab* lab : labs)
                lab->remove();
        });
        return true;
    }();
    (void)registered;

    const std::string pid = std::to_string(getpid());
    std::unique_ptr<VethLab> lab(new VethLab());
    lab->server_ns_ = std::string(kNamespacePrefix) + pid + "-srv";
    lab->client_ns_ = std::string(kNamespacePrefix) + pid + "-cli";
    // Interface names have at most 15 characters: "spf" + a pid of up to 7 digits + one letter.
    lab->server_if_ = "spf" + pid + "s";
    lab->client_if_ = "spf" + pid + "c";
    live_labs().insert(lab.get());

    const std::vector<std::vector<std::string>> steps = {
        {"ip", "netns", "add", lab->server_ns_},
        {"ip", "netns", "add", lab->client_ns_},
        {"ip", "link", "add", lab->server_if_, "netns", lab->server_ns_, "type", "veth", "peer",
         "name", lab->client_if_, "netns", lab->client_ns_},
        {"ip", "-n", lab->server_ns_, "addr", "add", std::string(kServerAddress) + "/24", "dev",
         lab->server_if_},
        {"ip", "-n", lab->client_ns_, "addr", "add", std::string(kClientAddress) + "/24", "dev",
         lab->client_if_},
        {"ip", "-n", lab->server_ns_, "link", "set", "lo", "up"},
        {"ip", "-n", lab->client_ns_, "link", "set", "lo", "up"},
        {"ip", "-n", lab->server_ns_, "link", "set", lab->server_if_, "up"},
        {"ip", "-n", lab->client_ns_, "link", "set", lab->client_if_, "up"},
    };
    for (const auto& step : steps) {
        if (auto st = run_command(step); !st)
            return Unexpected{"cannot build the veth lab: " + st.error()};  // the destructor undoes
    }
    return lab;
}

VethLab::~VethLab() {
    remove();
}

void VethLab::remove() {
    if (removed_)
        return;
    removed_ = true;
    // Deleting a namespace deletes the veth end in it, and with it the pair.
    quiet({"ip", "netns", "del", server_ns_});
    quiet({"ip", "netns", "del", client_ns_});
    live_labs().erase(this);
}

Status<std::string> VethLab::set_mtu(std::uint16_t mtu) {
    if (mtu == mtu_)
        return {};
    for (const auto& [ns, iface] :
         {std::pair{server_ns_, server_if_}, std::pair{client_ns_, client_if_}}) {
        if (auto st = run_command(
                {"ip", "-n", ns, "link", "set", "dev", iface, "mtu", std::to_string(mtu)});
            !st) {
            return st;
        }
    }
    mtu_ = mtu;
    return {};
}

void VethLab::remove_leftovers() {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/var/run/netns", error)) {
        const std::string name = entry.path().filename().string();
        if (!name.starts_with(kNamespacePrefix))
            continue;
        const std::string rest = name.substr(kNamespacePrefix.size());
        const std::size_t dash = rest.find('-');
        if (dash == std::string::npos ||
            (rest.substr(dash) != "-srv" && rest.substr(dash) != "-cli"))
            continue;
        char* end = nullptr;
        const long pid = std::strtol(rest.c_str(), &end, 10);
        if (end != rest.c_str() + dash || pid <= 0)
            continue;
        if (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH)
            continue;  // its sluice-perf is still running
        quiet({"ip", "netns", "del", name});
    }
}

}  // namespace sluice::perf
