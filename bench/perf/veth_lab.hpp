// The Linux veth baseline's network: two namespaces, one for the server and one for the client,
// joined by a veth pair, made for one sluice-perf process and named after its pid. They are removed
// when the lab is destroyed, by an atexit handler if the program leaves some other way, and, at the
// next start, when a lab's process is gone (a sluice-perf that was killed outright).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <sluice/result.hpp>

namespace sluice::perf {

class VethLab {
  public:
    static constexpr const char* kServerAddress = "10.99.0.1";
    static constexpr const char* kClientAddress = "10.99.0.2";

    static Result<std::unique_ptr<VethLab>, std::string> create();
    ~VethLab();
    VethLab(const VethLab&) = delete;
    VethLab& operator=(const VethLab&) = delete;

    // Both ends of the pair.
    Status<std::string> set_mtu(std::uint16_t mtu);
    const std::string& server_namespace() const { return server_ns_; }
    const std::string& client_namespace() const { return client_ns_; }

    // Namespaces of earlier sluice-perf processes that no longer exist.
    static void remove_leftovers();

  private:
    VethLab() = default;
    void remove();

    std::string server_ns_;
    std::string client_ns_;
    std::string server_if_;
    std::string client_if_;
    std::uint16_t mtu_ = 1500;
    bool removed_ = false;
};

}  // namespace sluice::perf
