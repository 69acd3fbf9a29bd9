// What a worker's TCP needs from the engine around it when there is more than one worker: local
// ports for connect() from the worker's own pool, and a way to hand a segment that reached the
// wrong worker to the one that owns its connection (docs/architecture.md, "The control plane").
// With none set, TcpStack picks ports itself from the default ephemeral range and never steers (one
// worker).
#pragma once

#include <cstdint>
#include <optional>

#include <rte_mbuf.h>

#include <sluice/four_tuple.hpp>
#include "dataplane/tcp/local_port_pool.hpp"

namespace sluice::tcp {

class PortArrangements {
  public:
    virtual ~PortArrangements() = default;
    // A local (address, port) for a connection to remote_ip:remote_port whose answers will reach
    // this worker, and that `in_use` (a listener's port, say) does not reject; nothing when none is
    // free (connect() then fails with EADDRNOTAVAIL).
    virtual std::optional<LocalEndpoint> take_port(std::uint32_t remote_ip,
                                                   std::uint16_t remote_port) = 0;
    // The connection that took `e` has left TIME-WAIT.
    virtual void give_back_port(LocalEndpoint e) = 0;
    // `frame` (whose data starts at the Ethernet header again) belongs to no connection here. True
    // when another worker owns `tuple` and the frame is on its way there; the callee then owns it.
    virtual bool steer(rte_mbuf* frame, const flow::FourTuple& tuple) = 0;
};

}  // namespace sluice::tcp
