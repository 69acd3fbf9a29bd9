#include "control/control_plane.hpp"

#include <cerrno>

#include <unistd.h>

#include <rte_errno.h>

namespace sluice::control {

namespace {

constexpr unsigned kControlRingSize = 64;
// Steered segments in flight between two workers; a full ring drops (and counts) like a full NIC
// queue would.
constexpr unsigned kMeshRingSize = 4096;

rte_ring* make_ring(const std::string& name, unsigned size, std::string& error) {
    rte_ring* r = rte_ring_create(name.c_str(), size, static_cast<int>(rte_socket_id()),
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (r == nullptr && error.empty()) {
        error = "cannot create ring " + name + ": " + rte_strerror(rte_errno);
    }
    return r;
}

}  // namespace

Result<std::unique_ptr<ControlPlane>, std::string> ControlPlane::create(
    std::uint16_t workers, std::vector<wire::Ipv4Address> addresses, std::uint16_t first_port,
    std::uint16_t last_port) {
    std::unique_ptr<ControlPlane> cp(
        new ControlPlane(workers, std::move(addresses), first_port, last_port));
    std::string error;
    // Ring names are global to the DPDK process; the pid keeps two engines' tests apart.
    const std::string tag = std::to_string(getpid() % 100000);
    for (std::uint16_t w = 0; w < workers; ++w) {
        cp->to_control_.push_back(
            make_ring("cp_in" + std::to_string(w) + "_" + tag, kControlRingSize, error));
        cp->from_control_.push_back(
            make_ring("cp_out" + std::to_string(w) + "_" + tag, kControlRingSize, error));
    }
    cp->mesh_.assign(static_cast<std::size_t>(workers) * workers, nullptr);
    for (std::uint16_t from = 0; from < workers; ++from) {
        for (std::uint16_t to = 0; to < workers; ++to) {
            if (from == to)
                continue;
            cp->mesh_[from * workers + to] =
                make_ring("mesh" + std::to_string(from) + "_" + std::to_string(to) + "_" + tag,
                          kMeshRingSize, error);
        }
    }
    if (!error.empty())
        return Unexpected{error};
    return cp;
}

ControlPlane::~ControlPlane() {
    for (rte_ring* r : to_control_)
        rte_ring_free(r);
    for (rte_ring* r : from_control_)
        rte_ring_free(r);
    for (rte_ring* r : mesh_) {
        if (r == nullptr)
            continue;
        // Segments still in flight at shutdown go back to the pool.
        void* m = nullptr;
        while (rte_ring_dequeue(r, &m) == 0)
            rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        rte_ring_free(r);
    }
}

std::vector<PortBlock> ControlPlane::lend_now(std::uint16_t w, std::size_t blocks) {
    const std::lock_guard hold(mutex_);
    std::vector<PortBlock> lent;
    for (std::size_t i = 0; i < blocks; ++i) {
        auto b = ports_.lend(w);
        if (!b)
            break;
        lent.push_back(*b);
    }
    return lent;
}

ControlPlane::PortSpaceReport ControlPlane::port_report() const {
    const std::lock_guard hold(mutex_);
    PortSpaceReport r;
    r.first_port = ports_.first_port();
    r.last_port = ports_.last_port();
    r.addresses = ports_.addresses();
    r.block_size = EphemeralPortAllocator::kBlockSize;
    r.blocks_total = ports_.blocks_total();
    r.blocks_lent = ports_.blocks_lent();
    r.blocks_by_worker = ports_.blocks_by_worker();
    r.blocks_by_worker.resize(workers_, 0);
    r.refills_answered = refills_;
    r.refills_refused = refused_;
    r.blocks_returned = returned_;
    return r;
}

void ControlPlane::post(ListenOrder* order) {
    const std::lock_guard hold(mutex_);
    orders_.emplace_back(order, 0);
}

void ControlPlane::check_request(ListenOrder& order) {
    const auto refuse = [&](int error) {
        order.refused.store(error, std::memory_order_relaxed);
        order.done.store(workers_, std::memory_order_release);
    };
    if (order.remove || order.handlers.size() != workers_)
        return refuse(EINVAL);
    if (registry_ == nullptr)
        return refuse(EOPNOTSUPP);
    auto held = registry_->add(wire::Ipv4Address{}, order.port, order.holder);
    if (!held)
        return refuse(held.error().error);
    order.port = *held;
    orders_.emplace_back(&order, 0);
}

void ControlPlane::forward_orders() {
    // The control loop is the only producer on each worker's ring: orders posted from other
    // threads travel through here. A full ring keeps the rest of an order for the next turn.
    for (auto& [order, reached] : orders_) {
        while (reached < workers_) {
            const std::uintptr_t word =
                control_message::kListenOrder | reinterpret_cast<std::uintptr_t>(order);
            // One place stays free for the answer to the worker's one outstanding refill request.
            if (rte_ring_free_count(from_control_[reached]) < 2 ||
                rte_ring_sp_enqueue(from_control_[reached], reinterpret_cast<void*>(word)) != 0) {
                break;
            }
            ++reached;
        }
    }
    std::erase_if(orders_, [&](const auto& o) { return o.second == workers_; });
}

void ControlPlane::poll() {
    const std::lock_guard hold(mutex_);
    for (std::uint16_t w = 0; w < workers_; ++w) {
        void* item = nullptr;
        while (rte_ring_sc_dequeue(to_control_[w], &item) == 0) {
            const auto word = reinterpret_cast<std::uintptr_t>(item);
            if ((word & control_message::kListenRequest) != 0) {
                check_request(
                    *reinterpret_cast<ListenOrder*>(word & ~control_message::kListenRequest));
                continue;
            }
            if ((word & control_message::kReturnBlock) != 0) {
                if (ports_.take_back(PortBlock::unpack(word & ~control_message::kReturnBlock), w))
                    ++returned_;
                continue;
            }
            if ((word & control_message::kRefillRequest) == 0)
                continue;
            const auto block = ports_.lend(w);
            std::uintptr_t answer = control_message::kNoMorePorts;
            if (block) {
                answer = block->pack();
                ++refills_;
            } else {
                ++refused_;
            }
            // The worker has at most one request outstanding, and orders leave it a place.
            rte_ring_sp_enqueue(from_control_[w], reinterpret_cast<void*>(answer));
        }
    }
    forward_orders();
}

}  // namespace sluice::control
