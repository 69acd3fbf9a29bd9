// TCP knobs, fixed at start-up. Defaults follow the RFCs, and Linux where the RFCs leave a choice.
#pragma once

#include <chrono>
#include <cstdint>

#include "dataplane/tcp/congestion/controller.hpp"
#include "dataplane/timers/clock.hpp"

namespace sluice::tcp {

struct TcpConfig {
    std::uint32_t max_connections = 65536;      // TCBs preallocated per worker (TIME-WAIT included)
    std::uint32_t send_buffer = 256 * 1024;     // bytes per connection
    std::uint32_t receive_buffer = 256 * 1024;  // bytes per connection; the largest window offered
    // Segments held out of order per connection; more are dropped and counted. 0: as many as a
    // whole receive window of full-sized segments could bring, with room for smaller ones
    // (receive_buffer / 512), so that nothing inside the offered window is dropped for want of
    // room.
    std::uint32_t max_out_of_order_segments = 0;
    // Segments held out of order by all of a worker's connections together: past it, a segment
    // that would be held is dropped and counted, so that a few connections (or an attacker
    // opening holes on purpose) cannot take the mbufs the worker needs to receive anything.
    // 0: half the mbuf pool the worker draws from (the engine passes half its share of the pool).
    std::uint32_t max_out_of_order_worker_segments = 0;
    congestion::Algorithm congestion = congestion::kDefaultAlgorithm;  // per connection
    bool sack = true;                                   // offer and accept SACK (RFC 2018)
    Nanos msl = std::chrono::seconds(30);               // TIME-WAIT lasts 2 * msl (RFC 9293 3.4.2)
    Nanos initial_rto = std::chrono::seconds(1);        // RFC 6298 2.1
    Nanos min_rto = std::chrono::milliseconds(200);     // Linux's; RFC 6298 2.4 suggests 1 s
    Nanos max_rto = std::chrono::seconds(60);           // RFC 6298 2.5
    std::uint8_t syn_retries = 6;                       // SYN and SYN-ACK retransmissions
    std::uint8_t max_retransmits = 15;                  // data retransmissions before giving up
    Nanos delayed_ack = std::chrono::milliseconds(40);  // < 500 ms, RFC 9293 3.8.6.3
    bool nagle = true;                                  // per connection, RFC 9293 3.7.4
    bool keepalive = false;                             // per connection, RFC 9293 3.8.4
    Nanos keepalive_idle = std::chrono::seconds(7200);
    Nanos keepalive_interval = std::chrono::seconds(75);
    std::uint8_t keepalive_probes = 9;
    std::uint16_t listen_backlog = 1024;  // half-open connections per listener
    Nanos persist_min = std::chrono::milliseconds(200);
    Nanos persist_max = std::chrono::seconds(60);
    // RFC 5961 7: challenge ACKs per second per worker, across all connections.
    std::uint32_t challenge_ack_limit = 1000;
    std::uint8_t window_scale = 7;  // the shift we offer; enough for the largest buffer allowed
};

}  // namespace sluice::tcp
