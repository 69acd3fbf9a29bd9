// Two complete engines in one process, each a NetStack and a TcpStack over its own net_ring port,
// joined by a FaultyLink each way (drivers/faulty_link.hpp), on one ManualClock. run_transfer()
// opens connections from engine A (the client) to an echo listener on engine B, sends a
// deterministic pattern, reads the echo back, checks every byte at both ends, and reports per
// flow what arrived, whether it was intact, and when, in simulated time.
//
// The wire between the engines does what a real one does and no more:
//   - each frame is copied as it leaves its engine (a device sends bytes, not the sender's mbuf:
//     a segment sent by reference stays in the sender's queue, and the receiver must not share it);
//   - with sack = false, a middlebox strips SACK-permitted from SYNs (sack_stripper.hpp);
//   - a corruption that no check above the link can see (the IPv4 and TCP checksums both still
//     pass: the Internet checksum misses, for instance, two flips of the same bit column in
//     opposite directions) is dropped, as the link's own CRC would have dropped it, and counted
//     (beyond_checksums). A corrupted frame the checksums can catch is delivered: catching it is
//     the engine's job.
// Time moves from event to event: to the next frame a link releases, or to the next timer tick
// (1 ms), whichever is first, so a transfer that stalls on a 60 s backoff costs 60 000 short
// steps, not a minute.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <sluice/connection.hpp>
#include "dataplane/stats/counters.hpp"
#include "dataplane/timers/clock.hpp"
#include "drivers/faulty_link.hpp"

namespace sluice::test {

struct TransferSpec {
    drivers::FaultProfile a_to_b;
    drivers::FaultProfile b_to_a;
    std::uint32_t flows = 1;
    std::uint64_t bytes_per_flow = 64 * 1024;  // sent by the client, and echoed back
    bool sack = true;
    Nanos time_limit = std::chrono::seconds(60);  // simulated
    std::uint32_t buffer_bytes = 64 * 1024;       // each connection's send and receive buffer
    // When set, every TCP segment is written here as it leaves an engine and as it arrives at
    // the other ("A>B sent ...", "A>B recv ..."), with the simulated time: a replayed case's
    // story, frame by frame. A segment sent and never received was lost.
    std::FILE* trace = nullptr;
};

struct FlowResult {
    std::uint64_t sent = 0;             // by the client
    std::uint64_t server_received = 0;  // read, checked and echoed by the server
    std::uint64_t received = 0;         // the echo, read and checked by the client
    // The first offset whose byte was wrong, at the server (A to B) or at the client (the echo).
    std::optional<std::uint64_t> server_mismatch;
    std::optional<std::uint64_t> client_mismatch;
    // All of the echo and the server's FIN arrived at the client.
    bool finished = false;
    Nanos completion{0};  // from the start of the transfer to `finished`
    // How each side's connection ended, if it did before the transfer stopped.
    std::optional<api::CloseReason> client_closed;
    std::optional<api::CloseReason> server_closed;
    std::uint32_t client_retransmits = 0;  // from api::ConnectionInfo, last seen
    std::uint32_t server_retransmits = 0;
    std::string client_state;  // the client connection's TCP state when the transfer stopped
    std::string server_state;

    bool intact() const { return !server_mismatch && !client_mismatch; }
    // Finished, with every byte right both ways and no connection ended abnormally.
    bool ok(std::uint64_t bytes) const;
};

struct TransferResult {
    std::uint64_t bytes_per_flow = 0;  // as asked
    std::vector<FlowResult> flows;
    Nanos elapsed{0};  // simulated, until every flow finished or the limit
    WorkerCounters a;  // engine A's counters (the client)
    WorkerCounters b;
    drivers::FaultCounters a_to_b;
    drivers::FaultCounters b_to_a;
    std::uint64_t beyond_checksums = 0;  // corrupted frames dropped in place of the link CRC
    std::uint64_t syns_stripped = 0;     // SACK-permitted options removed (sack = false)
    std::uint64_t mbufs_leaked = 0;      // in the pair's pool after both engines were destroyed

    std::uint32_t finished() const;
    Nanos slowest() const;  // the latest completion among finished flows
    // One paragraph for a failure message: flows, times, counters of both engines and links.
    std::string summary() const;
};

TransferResult run_transfer(const TransferSpec& spec);
TransferResult run_transfer(const drivers::FaultProfile& a_to_b,
                            const drivers::FaultProfile& b_to_a, std::uint32_t flows,
                            std::uint64_t bytes_per_flow, bool sack);

// The byte the pattern has at `offset` of flow `flow`: different for every flow and never
// periodic, so a segment placed at a wrong offset, or in the wrong connection, shows.
std::byte pattern_byte(std::uint32_t flow, std::uint64_t offset);

}  // namespace sluice::test
