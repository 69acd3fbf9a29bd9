#include "dataplane/services/simple_services.hpp"

#include "dataplane/services/pattern.hpp"

namespace sluice::services {

EchoService::~EchoService() {
    for (rte_mbuf* m : waiting_)
        rte_pktmbuf_free(m);
}

void EchoService::pump(api::Connection c) {
    rte_mbuf*& waiting = waiting_[c.slot()];
    for (;;) {
        rte_mbuf* m = waiting != nullptr ? waiting : c.receive();
        if (m == nullptr) {
            // All echoed: once the peer has finished, so have we.
            if (c.peer_closed())
                (void)c.close();
            return;
        }
        if (!c.send_mbuf(m)) {
            waiting = m;  // on_writable will bring us back
            return;
        }
        waiting = nullptr;
    }
}

void EchoService::on_peer_closed(api::Connection c) {
    pump(c);
}

void EchoService::on_closed(api::Connection c, api::CloseReason) {
    rte_pktmbuf_free(waiting_[c.slot()]);
    waiting_[c.slot()] = nullptr;
}

void DiscardService::on_readable(api::Connection c) {
    while (rte_mbuf* m = c.receive())
        rte_pktmbuf_free(m);
}

void SourceService::fill(api::Connection c) {
    // The offset already queued is kept in the connection's user data (an integer, not a pointer).
    auto offset = reinterpret_cast<std::uintptr_t>(c.user_data());
    while (offset < bytes_) {
        const auto chunk = pattern_at(
            offset, static_cast<std::size_t>(std::min<std::uint64_t>(bytes_ - offset, 65536)));
        auto n = c.send(chunk);
        if (!n || *n == 0)
            break;
        offset += *n;
    }
    c.set_user_data(reinterpret_cast<void*>(offset));
    if (offset >= bytes_)
        (void)c.shutdown_write();
}

void SourceService::on_readable(api::Connection c) {
    while (rte_mbuf* m = c.receive())
        rte_pktmbuf_free(m);
}

}  // namespace sluice::services
