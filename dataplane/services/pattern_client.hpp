// The engine's own client: connects to ip:port, sends N bytes of the pattern, closes its sending
// side (half-close), reads until the peer's FIN, and checks what came back byte by byte against
// the pattern. Against an echo server that proves the data made the round trip intact; against a
// server that only reads, it proves the half-close in the other direction. Success needs every
// byte sent, every byte received matching the pattern, and as many received as expected: by
// default as many as were sent (an echo), so that a transfer cut short never passes.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include <sluice/connection.hpp>
#include "dataplane/tcp/tcp_stack.hpp"

namespace sluice::services {

class PatternClient final : public api::ConnectionHandler {
  public:
    // `expected`: the bytes the peer should send back; none: any number.
    PatternClient(std::uint64_t bytes, std::optional<std::uint64_t> expected)
        : bytes_(bytes), expected_(expected) {}

    // On the worker that owns `tcp` (or before it runs).
    Status<api::Errno> start(tcp::TcpStack& tcp, wire::Ipv4Address ip, std::uint16_t port);

    void on_connected(api::Connection c) override { fill(c); }
    void on_writable(api::Connection c) override { fill(c); }
    void on_readable(api::Connection c) override;
    void on_peer_closed(api::Connection c) override;
    void on_closed(api::Connection c, api::CloseReason reason) override;

    // Read from any thread: set last, once everything else is final.
    bool finished() const { return finished_.load(std::memory_order_acquire); }
    bool succeeded() const;
    std::string summary() const;

  private:
    void fill(api::Connection c);

    std::uint64_t bytes_;
    std::optional<std::uint64_t> expected_;
    std::uint64_t sent_ = 0;
    std::uint64_t received_ = 0;
    bool corrupt_ = false;
    bool connected_ = false;
    api::CloseReason reason_ = api::CloseReason::Closed;
    std::atomic<bool> finished_{false};
};

}  // namespace sluice::services
