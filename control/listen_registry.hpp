// Every listening endpoint of the engine, checked once here before it is installed on every
// worker (docs/architecture.md, "Listen registry"): a second listener on the same port is
// EADDRINUSE with the name of the holder; port 0 asks for any free port, which the answer names;
// privileged ports (below 1024) are refused with EACCES unless the policy allows them; ports in the
// ephemeral range are refused with EADDRINUSE, since connect() hands them out.
#pragma once

#include <mutex>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <sluice/addresses.hpp>
#include <sluice/result.hpp>

namespace sluice::control {

struct ListenEntry {
    wire::Ipv4Address address;  // 0.0.0.0: every local address
    std::uint16_t port = 0;
    std::string holder;  // who asked: "service http", "application", ...
};

struct ListenError {
    int error = 0;        // errno: EADDRINUSE, EACCES, EINVAL, EADDRNOTAVAIL
    std::string message;  // for the operator
};

class ListenRegistry {
  public:
    ListenRegistry(std::uint16_t ephemeral_first, std::uint16_t ephemeral_last,
                   bool allow_privileged)
        : ephemeral_first_(ephemeral_first),
          ephemeral_last_(ephemeral_last),
          allow_privileged_(allow_privileged) {}

    // The port now held (the one asked for, or a free one for port 0).
    Result<std::uint16_t, ListenError> add(wire::Ipv4Address address, std::uint16_t port,
                                           const std::string& holder);
    bool remove(wire::Ipv4Address address, std::uint16_t port);
    // A copy: the registry may change (runtime listen) while the caller looks.
    std::vector<ListenEntry> entries() const {
        const std::lock_guard hold(mutex_);
        return entries_;
    }

  private:
    const ListenEntry* conflicting(wire::Ipv4Address address, std::uint16_t port) const;

    std::uint16_t ephemeral_first_;
    std::uint16_t ephemeral_last_;
    bool allow_privileged_;
    // Start-up, the telemetry thread (sluicectl listen/unlisten) and the control loop may all ask;
    // workers never do, so the lock is never on a fast path.
    mutable std::mutex mutex_;
    std::vector<ListenEntry> entries_;
};

}  // namespace sluice::control
