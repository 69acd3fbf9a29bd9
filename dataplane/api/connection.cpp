#include <sluice/connection.hpp>

#include "dataplane/tcp/tcp_stack.hpp"

namespace sluice::api {

std::string_view close_reason_name(CloseReason r) {
    switch (r) {
        case CloseReason::Closed:
            return "closed";
        case CloseReason::Reset:
            return "reset";
        case CloseReason::Refused:
            return "refused";
        case CloseReason::TimedOut:
            return "timed out";
        case CloseReason::Aborted:
            return "aborted";
    }
    return "unknown";
}

Errno close_reason_errno(CloseReason r) {
    switch (r) {
        case CloseReason::Closed:
            return 0;
        case CloseReason::Reset:
            return ECONNRESET;
        case CloseReason::Refused:
            return ECONNREFUSED;
        case CloseReason::TimedOut:
            return ETIMEDOUT;
        case CloseReason::Aborted:
            return ECONNABORTED;
    }
    return EIO;
}

#define SLUICE_TCB_OR(fail)                                              \
    tcp::Tcb* t = stack_ ? stack_->lookup(slot_, generation_) : nullptr; \
    if (t == nullptr)                                                    \
    return fail

bool Connection::valid() const {
    return stack_ != nullptr && stack_->lookup(slot_, generation_) != nullptr;
}

Result<std::size_t, Errno> Connection::send(std::span<const std::byte> data) {
    SLUICE_TCB_OR(Unexpected{ENOTCONN});
    return stack_->send(*t, data);
}

Result<std::size_t, Errno> Connection::send_mbuf(rte_mbuf* chain) {
    SLUICE_TCB_OR(Unexpected{ENOTCONN});
    return stack_->send_chain(*t, chain);
}

rte_mbuf* Connection::receive() {
    SLUICE_TCB_OR(nullptr);
    return stack_->receive_buffer(*t);
}

std::size_t Connection::read(std::span<std::byte> out) {
    SLUICE_TCB_OR(0);
    return stack_->read(*t, out);
}

std::size_t Connection::peek(std::span<std::byte> out) const {
    SLUICE_TCB_OR(0);
    return t->receive_queue.peek(out);
}

bool Connection::peer_closed() const {
    SLUICE_TCB_OR(true);
    return t->peer_fin;
}

std::uint32_t Connection::readable() const {
    SLUICE_TCB_OR(0);
    return t->receive_queue.readable();
}

std::uint32_t Connection::send_space() const {
    SLUICE_TCB_OR(0);
    return stack_->send_space(*t);
}

Status<Errno> Connection::shutdown_write() {
    SLUICE_TCB_OR(Unexpected{ENOTCONN});
    return stack_->shutdown_write(*t);
}

Status<Errno> Connection::close() {
    SLUICE_TCB_OR(Unexpected{ENOTCONN});
    return stack_->close(*t);
}

void Connection::abort() {
    SLUICE_TCB_OR();
    stack_->abort(*t);
}

Status<Errno> Connection::set_nodelay(bool on) {
    SLUICE_TCB_OR(Unexpected{ENOTCONN});
    t->nodelay = on;
    return {};
}

Status<Errno> Connection::set_keepalive(bool on) {
    SLUICE_TCB_OR(Unexpected{ENOTCONN});
    stack_->set_keepalive(*t, on);
    return {};
}

Status<Errno> Connection::set_congestion(tcp::congestion::Algorithm algorithm) {
    SLUICE_TCB_OR(Unexpected{ENOTCONN});
    t->cc.switch_to(algorithm);
    return {};
}

Result<ConnectionInfo, Errno> Connection::info() const {
    SLUICE_TCB_OR(Unexpected{ENOTCONN});
    return stack_->info(*t);
}

void Connection::set_user_data(void* p) {
    SLUICE_TCB_OR();
    t->user_data = p;
}

void* Connection::user_data() const {
    SLUICE_TCB_OR(stack_ != nullptr ? stack_->closing_user_data(slot_, generation_) : nullptr);
    return t->user_data;
}

#undef SLUICE_TCB_OR

}  // namespace sluice::api
