// The Sluice side's load, written on the callback API (<sluice/connection.hpp>) like any
// application: one client handler per workload and the crr server. rr and latency are served by
// the engine's EchoService and stream by its SourceService, unchanged (sluice_load.cpp).
//
// Everything here runs on the one worker's thread, inside its loop; nothing is thread-safe.
// Per-connection state lives in vectors indexed by connection slot, allocated once.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include <sluice/connection.hpp>
#include "bench/perf/histogram.hpp"
#include "bench/perf/workload.hpp"
#include "dataplane/tcp/tcp_stack.hpp"

namespace sluice::perf {

// What the client handlers tell the client loop.
struct ClientTally {
    std::uint64_t completed = 0;         // transactions, or bytes for stream
    std::uint64_t errors = 0;            // connections that ended other than as the workload says
    std::uint64_t connect_failures = 0;  // connect() itself refused (no port, no TCB)
    std::uint32_t live = 0;              // connections opened and not yet closed
    bool first_established = false;      // the peer's MAC is known: the rest may follow
    bool record_latency = false;         // set by the loop while the window is open
    LatencyHistogram latency;
};

// One handler for every client workload: what differs is what a response means and when a
// connection ends (see each callback).
class LoadClient final : public api::ConnectionHandler {
  public:
    LoadClient(const LoadParams& params, tcp::TcpStack& tcp, wire::Ipv4Address server,
               std::uint16_t port, ClientTally& tally);

    // Between two loop turns (never inside a callback): opens connections until as many are live
    // as the workload wants; only one until the first is established, since the first SYN waits
    // for ARP and the neighbour queue holds only a few packets.
    void open_connections();

    void on_connected(api::Connection c) override;
    void on_readable(api::Connection c) override;
    void on_writable(api::Connection c) override { write_owed(c); }
    void on_peer_closed(api::Connection c) override;
    void on_closed(api::Connection c, api::CloseReason reason) override;

  private:
    struct Flow {
        std::uint64_t owed = 0;     // request bytes not yet taken by send()
        std::uint64_t partial = 0;  // response bytes towards the next whole response
        bool answered = false;      // crr: the whole response is in
        std::chrono::steady_clock::time_point sent_at{};
    };

    void write_owed(api::Connection c);

    LoadParams params_;
    tcp::TcpStack& tcp_;
    wire::Ipv4Address server_;
    std::uint16_t port_;
    ClientTally& tally_;
    std::vector<Flow> flows_;  // by connection slot
};

// crr's server: echoes the request and closes as soon as the whole S-byte response is queued, so
// that TIME-WAIT stays on the server (as with a Linux server that closes first) and the client's
// ephemeral ports come straight back. Echoes without copying, as EchoService does.
class CrrServer final : public api::ListenHandler, public api::ConnectionHandler {
  public:
    CrrServer(std::uint32_t size, std::size_t slots) : size_(size), flows_(slots) {}
    ~CrrServer() override;

    api::ConnectionHandler* on_accept(api::Connection c) override;
    void on_readable(api::Connection c) override { pump(c); }
    void on_writable(api::Connection c) override { pump(c); }
    void on_peer_closed(api::Connection c) override { pump(c); }
    void on_closed(api::Connection c, api::CloseReason reason) override;

  private:
    struct Flow {
        std::uint64_t echoed = 0;
        rte_mbuf* waiting = nullptr;  // received, not yet taken by send_mbuf
    };
    void pump(api::Connection c);

    std::uint32_t size_;
    std::vector<Flow> flows_;
};

}  // namespace sluice::perf
