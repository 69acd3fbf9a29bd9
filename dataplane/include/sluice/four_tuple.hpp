// The identity of a connection, from this host's side: (local ip, local port, remote ip, remote
// port). Packed into 12 bytes with no padding, so it can be hashed and compared as bytes.
#pragma once

#include <cstdint>
#include <string>

#include <sluice/addresses.hpp>

namespace sluice::flow {

struct FourTuple {
    std::uint32_t local_ip = 0;  // host order
    std::uint32_t remote_ip = 0;
    std::uint16_t local_port = 0;
    std::uint16_t remote_port = 0;

    static FourTuple make(wire::Ipv4Address local_ip, std::uint16_t local_port,
                          wire::Ipv4Address remote_ip, std::uint16_t remote_port) {
        return FourTuple{local_ip.host(), remote_ip.host(), local_port, remote_port};
    }
    wire::Ipv4Address local_address() const { return wire::Ipv4Address::from_host(local_ip); }
    wire::Ipv4Address remote_address() const { return wire::Ipv4Address::from_host(remote_ip); }
    std::string to_string() const {
        return local_address().to_string() + ":" + std::to_string(local_port) + " <-> " +
               remote_address().to_string() + ":" + std::to_string(remote_port);
    }
    friend bool operator==(const FourTuple&, const FourTuple&) = default;
};
static_assert(sizeof(FourTuple) == 12, "FourTuple must stay packed: it is hashed as bytes");

}  // namespace sluice::flow
