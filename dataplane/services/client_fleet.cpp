#include "dataplane/services/client_fleet.hpp"

#include <cerrno>

namespace sluice::services {

ClientFleet::ClientFleet(std::uint64_t bytes_each, std::optional<std::uint64_t> expected_back,
                         std::uint32_t connections, std::uint32_t parallel)
    : bytes_each_(bytes_each), parallel_(parallel == 0 ? 1 : parallel) {
    clients_.reserve(connections);
    for (std::uint32_t i = 0; i < connections; ++i) {
        clients_.push_back(std::make_unique<PatternClient>(bytes_each, expected_back));
    }
    running_.reserve(parallel_);
}

Status<api::Errno> ClientFleet::start(tcp::TcpStack& tcp, wire::Ipv4Address ip,
                                      std::uint16_t port) {
    tcp_ = &tcp;
    ip_ = ip;
    port_ = port;
    if (clients_.empty()) {
        finished_.store(true, std::memory_order_release);
        return {};
    }
    // The first connect() says at once whether the destination can be reached at all.
    if (auto st = clients_.front()->start(tcp, ip, port); !st)
        return st;
    running_.push_back(opened_++);
    poll();
    return {};
}

bool ClientFleet::open_next() {
    const std::uint32_t i = opened_;
    if (auto st = clients_[i]->start(*tcp_, ip_, port_); !st) {
        // No local port for now: ports come back from TIME-WAIT and in refills from the control
        // plane, so try again next turn, unless nothing is left that could free one.
        if (st.error() == EADDRNOTAVAIL && !out_of_ports_for_good())
            return false;
        ++opened_;
        ++refused_locally_;
        ++failed_;
        ++done_;
        return true;
    }
    ++opened_;
    starved_since_.reset();
    running_.push_back(i);
    return true;
}

bool ClientFleet::out_of_ports_for_good() {
    if (!running_.empty() || tcp_->connections_in(tcp::TcpState::TimeWait) != 0) {
        starved_since_.reset();
        return false;
    }
    // Nothing of ours will free a port; a refill may still be on its way.
    if (!starved_since_)
        starved_since_ = tcp_->now();
    return tcp_->now() - *starved_since_ > kRefillPatience;
}

void ClientFleet::poll() {
    if (tcp_ == nullptr || finished())
        return;
    for (std::size_t k = 0; k < running_.size();) {
        const PatternClient& c = *clients_[running_[k]];
        if (!c.finished()) {
            ++k;
            continue;
        }
        ++done_;
        if (!c.succeeded())
            ++failed_;
        running_[k] = running_.back();
        running_.pop_back();
    }
    while (running_.size() < parallel_ && opened_ < clients_.size()) {
        if (!open_next())
            break;
    }
    if (done_ == clients_.size())
        finished_.store(true, std::memory_order_release);
}

bool ClientFleet::succeeded() const {
    return finished() && failed_ == 0;
}

std::string ClientFleet::summary() const {
    if (clients_.size() == 1)
        return clients_.front()->summary();
    std::string s = "client: " + std::to_string(clients_.size()) + " connections of " +
                    std::to_string(bytes_each_) + " bytes each, " +
                    std::to_string(done_ - failed_) + " succeeded, " + std::to_string(failed_) +
                    " failed";
    if (refused_locally_ > 0)
        s += " (" + std::to_string(refused_locally_) + " could not open)";
    for (const auto& c : clients_) {
        if (c->finished() && !c->succeeded()) {
            s += "; first failure: " + c->summary();
            break;
        }
    }
    return s;
}

}  // namespace sluice::services
