#include "dataplane/services/pattern_client.hpp"

#include <array>
#include <cstring>

#include "dataplane/services/pattern.hpp"

namespace sluice::services {

Status<api::Errno> PatternClient::start(tcp::TcpStack& tcp, wire::Ipv4Address ip,
                                        std::uint16_t port) {
    finished_.store(false, std::memory_order_relaxed);  // a start that failed may be retried
    auto c = tcp.connect(ip, port, this);
    if (!c) {
        finished_.store(true, std::memory_order_release);
        return Unexpected{c.error()};
    }
    return {};
}

void PatternClient::fill(api::Connection c) {
    connected_ = true;
    while (sent_ < bytes_) {
        auto n = c.send(pattern_at(
            sent_, static_cast<std::size_t>(std::min<std::uint64_t>(bytes_ - sent_, 65536))));
        if (!n || *n == 0)
            return;
        sent_ += *n;
    }
    (void)c.shutdown_write();
}

void PatternClient::on_readable(api::Connection c) {
    while (rte_mbuf* m = c.receive()) {
        const std::span<const std::byte> bytes(rte_pktmbuf_mtod(m, const std::byte*), m->data_len);
        if (!matches_pattern(bytes, received_))
            corrupt_ = true;
        received_ += bytes.size();
        rte_pktmbuf_free(m);
    }
}

void PatternClient::on_peer_closed(api::Connection c) {
    on_readable(c);
    if (sent_ >= bytes_)
        (void)c.close();
}

void PatternClient::on_closed(api::Connection, api::CloseReason reason) {
    reason_ = reason;
    finished_.store(true, std::memory_order_release);
}

bool PatternClient::succeeded() const {
    return finished() && connected_ && reason_ == api::CloseReason::Closed && sent_ == bytes_ &&
           !corrupt_ && (!expected_ || received_ == *expected_);
}

std::string PatternClient::summary() const {
    std::string s = "client: sent " + std::to_string(sent_) + " of " + std::to_string(bytes_) +
                    " bytes, received " + std::to_string(received_) + " bytes";
    if (expected_ && received_ != *expected_)
        s += " (SHORT: expected " + std::to_string(*expected_) + ")";
    s += corrupt_ ? ", CORRUPT (not the pattern)" : ", all as sent";
    s += ", connection ";
    s += connected_ ? std::string(api::close_reason_name(reason_)) : "never established";
    return s;
}

}  // namespace sluice::services
