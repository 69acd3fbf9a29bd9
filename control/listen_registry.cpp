#include "control/listen_registry.hpp"

#include <cerrno>

namespace sluice::control {

const ListenEntry* ListenRegistry::conflicting(wire::Ipv4Address address,
                                               std::uint16_t port) const {
    for (const ListenEntry& e : entries_) {
        // A wildcard listener overlaps every address on its port, and any listener overlaps it.
        if (e.port == port && (e.address == address || e.address.is_any() || address.is_any())) {
            return &e;
        }
    }
    return nullptr;
}

Result<std::uint16_t, ListenError> ListenRegistry::add(wire::Ipv4Address address,
                                                       std::uint16_t port,
                                                       const std::string& holder) {
    const std::lock_guard hold(mutex_);
    if (port == 0) {
        // Like bind() to port 0: any free port, here from the unprivileged ports below the
        // ephemeral range (those above are connect()'s).
        for (std::uint32_t p = 1024; p < 65536; ++p) {
            if (p >= ephemeral_first_ && p <= ephemeral_last_)
                continue;
            if (conflicting(address, static_cast<std::uint16_t>(p)) == nullptr) {
                entries_.push_back(ListenEntry{address, static_cast<std::uint16_t>(p), holder});
                return static_cast<std::uint16_t>(p);
            }
        }
        return Unexpected{ListenError{EADDRNOTAVAIL, "no free port to listen on"}};
    }
    const std::string where = address.to_string() + ":" + std::to_string(port);
    if (port < 1024 && !allow_privileged_) {
        return Unexpected{ListenError{
            EACCES, where + ": privileged port (below 1024) and the policy does not allow them"}};
    }
    if (port >= ephemeral_first_ && port <= ephemeral_last_) {
        return Unexpected{ListenError{
            EADDRINUSE, where + ": inside the ephemeral range " + std::to_string(ephemeral_first_) +
                            "-" + std::to_string(ephemeral_last_) + ", which connect() hands out"}};
    }
    if (const ListenEntry* held = conflicting(address, port)) {
        return Unexpected{ListenError{EADDRINUSE, where + ": already held by " + held->holder +
                                                      " on " + held->address.to_string() + ":" +
                                                      std::to_string(held->port)}};
    }
    entries_.push_back(ListenEntry{address, port, holder});
    return port;
}

bool ListenRegistry::remove(wire::Ipv4Address address, std::uint16_t port) {
    const std::lock_guard hold(mutex_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (it->port == port && it->address == address) {
            entries_.erase(it);
            return true;
        }
    }
    return false;
}

}  // namespace sluice::control
