// The engine's client run many times: `connections` PatternClients, at most `parallel` of them at
// once, each a fresh connection (and a fresh ephemeral port) to the same server. What a load
// generator does, and what shows that ports come back after TIME-WAIT and that answers steered
// between workers still reach their connection. Polled on its worker's thread, between segments,
// so a connection is never opened from inside another's callback.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/services/pattern_client.hpp"

namespace sluice::services {

class ClientFleet {
  public:
    // `expected_back`: what each should receive (PatternClient); none: any number.
    ClientFleet(std::uint64_t bytes_each, std::optional<std::uint64_t> expected_back,
                std::uint32_t connections, std::uint32_t parallel);

    // Opens the first ones; on the worker that owns `tcp`, or before it runs.
    Status<api::Errno> start(tcp::TcpStack& tcp, wire::Ipv4Address ip, std::uint16_t port);
    // Once per loop turn on that worker: counts what finished and opens what may follow.
    void poll();

    // Read from any thread.
    bool finished() const { return finished_.load(std::memory_order_acquire); }
    bool succeeded() const;
    // After finished(): one line for the report.
    std::string summary() const;

  private:
    // False when connect() found no local port and the fleet should try again next turn.
    bool open_next();
    bool out_of_ports_for_good();

    static constexpr Nanos kRefillPatience = std::chrono::seconds(1);

    std::uint64_t bytes_each_;
    std::uint32_t parallel_;
    tcp::TcpStack* tcp_ = nullptr;
    wire::Ipv4Address ip_;
    std::uint16_t port_ = 0;
    std::vector<std::unique_ptr<PatternClient>> clients_;
    std::uint32_t opened_ = 0;
    std::uint32_t done_ = 0;
    std::uint32_t failed_ = 0;
    std::uint32_t refused_locally_ = 0;  // connect() itself failed (no port, no TCB)
    std::vector<std::uint32_t> running_;
    std::optional<Nanos> starved_since_;  // when connect() last began to find no port
    std::atomic<bool> finished_{false};
};

}  // namespace sluice::services
