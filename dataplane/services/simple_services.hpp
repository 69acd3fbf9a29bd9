// The classic small TCP services (RFC 862 echo, RFC 863 discard) and a source of N bytes, as
// listen handlers on one worker's TcpStack. Each keeps no per-connection state of its own.
#pragma once

#include <cstdint>
#include <vector>

#include <sluice/connection.hpp>

namespace sluice::services {

// Sends back everything it receives, without copying (the received buffers are queued for
// sending as they are). When the send buffer is full it keeps the one buffer that did not fit and
// stops reading, so the receive window closes and the peer slows down: nothing is dropped.
class EchoService final : public api::ListenHandler, public api::ConnectionHandler {
  public:
    // `slots`: the TcpStack's slot_count(); one waiting buffer per connection slot at most.
    explicit EchoService(std::size_t slots) : waiting_(slots, nullptr) {}
    ~EchoService() override;
    api::ConnectionHandler* on_accept(api::Connection) override { return this; }
    void on_readable(api::Connection c) override { pump(c); }
    void on_writable(api::Connection c) override { pump(c); }
    void on_peer_closed(api::Connection c) override;
    void on_closed(api::Connection c, api::CloseReason) override;

  private:
    void pump(api::Connection c);
    std::vector<rte_mbuf*> waiting_;
};

// Reads and frees everything.
class DiscardService final : public api::ListenHandler, public api::ConnectionHandler {
  public:
    api::ConnectionHandler* on_accept(api::Connection) override { return this; }
    void on_readable(api::Connection c) override;
    void on_peer_closed(api::Connection c) override { (void)c.close(); }
};

// Sends `bytes` bytes of the pattern, then closes its side; discards what it receives.
class SourceService final : public api::ListenHandler, public api::ConnectionHandler {
  public:
    explicit SourceService(std::uint64_t bytes) : bytes_(bytes) {}
    api::ConnectionHandler* on_accept(api::Connection) override { return this; }
    void on_connected(api::Connection c) override { fill(c); }
    void on_writable(api::Connection c) override { fill(c); }
    void on_readable(api::Connection c) override;
    void on_peer_closed(api::Connection c) override { (void)c.close(); }

  private:
    void fill(api::Connection c);
    std::uint64_t bytes_;
};

}  // namespace sluice::services
