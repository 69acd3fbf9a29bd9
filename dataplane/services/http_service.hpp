// A small HTTP/1.1 server (RFC 9112) that answers every GET or HEAD with a fixed body of pattern
// bytes: keep-alive, pipelining, correct Content-Length, "Connection: close" honoured. Enough to
// face curl and wrk. The body size is configured, or asked for with a path "/bytes/N".
//
// Requests are parsed in place from the receive queue (peek, then read exactly one request), so
// the only per-connection state is where the current response body stands.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include <sluice/connection.hpp>

namespace sluice::services {

class HttpService final : public api::ListenHandler, public api::ConnectionHandler {
  public:
    static constexpr std::size_t kMaxHeaderBytes = 8192;
    static constexpr std::uint64_t kMaxBodyBytes = std::uint64_t{1} << 34;  // 16 GiB

    HttpService(std::uint64_t body_bytes, std::size_t slots)
        : body_bytes_(body_bytes), responses_(slots) {}

    api::ConnectionHandler* on_accept(api::Connection c) override;
    void on_readable(api::Connection c) override { serve(c); }
    void on_writable(api::Connection c) override { serve(c); }
    void on_peer_closed(api::Connection c) override { serve(c); }

    std::uint64_t requests_served() const { return requests_; }

    // What a request asks for, parsed from its head (request line and headers).
    struct Request {
        bool valid = false;
        bool head = false;                // HEAD: headers only
        bool supported_method = false;    // GET or HEAD
        bool keep_alive = true;           // after this response
        std::uint64_t body_bytes = 0;     // of the response
        std::int64_t content_length = 0;  // of the request (bodies are read and ignored)
    };
    static Request parse(std::string_view head, std::uint64_t default_body);

  private:
    struct Response {
        std::uint64_t body_left = 0;
        std::uint64_t body_offset = 0;
        std::uint64_t skip_request_body = 0;
        bool close_after = false;
    };
    void serve(api::Connection c);
    bool send_body(api::Connection c, Response& r);
    static bool send_all(api::Connection c, std::string_view text);

    std::uint64_t body_bytes_;
    std::vector<Response> responses_;  // by connection slot
    std::uint64_t requests_ = 0;
};

}  // namespace sluice::services
