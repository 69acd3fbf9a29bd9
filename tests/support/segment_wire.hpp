// Two TCP cores joined segment to segment, with nothing beneath them: no port, no NetStack, no
// Ethernet, no ARP. Each core (a TcpStack) sends through a TransportSender that only keeps what it
// was given (net/transport.hpp); the wire carries those segments to the other core after a fixed
// one-way delay, through a filter the test chooses (deliver, drop, duplicate, or hold back until
// later segments have overtaken it), on a manual clock that moves only in run(). Every segment
// on the wire is copied, as a device would send bytes and not the sender's mbuf, and parsed, so
// a filter can pick one out by sequence number, flags or length.
//
// This is the seam smoltcp's tests use (`Socket::process` fed segment by segment): loss,
// reordering and duplication by construction, without a link or a driver in between.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/net/transport.hpp"
#include "dataplane/stats/counters.hpp"
#include "dataplane/tcp/tcp_stack.hpp"
#include "dataplane/timers/clock.hpp"
#include "dataplane/wire/tcp.hpp"

namespace sluice::test {

// A segment on the wire between the cores.
struct WireSegment {
    bool from_a = true;  // sent by core A (the client), else by B
    wire::TcpHeader tcp;
    std::uint32_t payload = 0;  // bytes after the header
    rte_mbuf* mbuf = nullptr;   // the copy that travels; owned by the wire until delivered
    Nanos sent_at{0};
};

// One TCP core and the segments it sent, not yet carried anywhere.
class CoreEnd final : public TransportSender {
  public:
    CoreEnd(const std::string& name, wire::Ipv4Address address, const tcp::TcpConfig& config,
            rte_mempool* pool, const Clock& clock);
    ~CoreEnd() override;
    CoreEnd(const CoreEnd&) = delete;
    CoreEnd& operator=(const CoreEnd&) = delete;

    void send_transport(rte_mbuf* segment, std::uint8_t protocol,
                        wire::Ipv4Address destination) override;

    wire::Ipv4Address address;
    WorkerCounters counters;
    std::unique_ptr<tcp::TcpStack> tcp;  // null when creation failed: `error` says why
    std::string error;
    std::deque<rte_mbuf*> outbox;
};

class SegmentWire {
  public:
    // What becomes of one segment on its way.
    enum class Fate {
        Deliver,
        Drop,
        Duplicate,  // arrives twice, one copy right after the other
        Hold,       // arrives after the next hold distance segments in its direction (or, if they
                    // never come, two one-way delays late)
    };
    // Called once per segment, in the order they were sent.
    using Filter = std::function<Fate(const WireSegment&)>;

    // `one_way`: the time every segment takes from one core to the other.
    explicit SegmentWire(const tcp::TcpConfig& config,
                         Nanos one_way = std::chrono::milliseconds(5));
    ~SegmentWire();
    SegmentWire(const SegmentWire&) = delete;
    SegmentWire& operator=(const SegmentWire&) = delete;

    CoreEnd& a() { return *a_; }
    CoreEnd& b() { return *b_; }
    ManualClock& clock() { return clock_; }
    void set_filter(Filter f) { filter_ = std::move(f); }
    void set_hold_distance(std::uint32_t n) { hold_distance_ = n; }

    // Puts on the wire what either core has sent, and delivers what is due now, each core's
    // arrivals as one receive burst ended by its burst ACKs (as a worker's loop turn does),
    // until neither core has anything more to say at this instant.
    void exchange();
    // Lets `span` of simulated time pass, stepping to each arrival and to every 1 ms tick for
    // the cores' timers; returns early once `done` says so.
    void run(Nanos span, const std::function<bool()>& done = {});

    std::uint64_t delivered() const { return delivered_; }
    std::uint64_t dropped() const { return dropped_; }
    // Every segment the filter saw, in order (without its mbuf).
    const std::vector<WireSegment>& log() const { return log_; }

  private:
    struct InFlight {
        Nanos due{0};
        WireSegment segment;
        std::uint32_t wait_for = 0;  // held: later segments in its direction still to arrive
    };
    // Moves `from`'s outbox onto the wire; true if anything moved.
    bool send(CoreEnd& from, bool from_a);
    // Delivers what is due in one direction; true if anything arrived.
    bool arrive(bool to_b);
    void deliver(const WireSegment& s);

    ManualClock clock_{std::chrono::seconds(1000)};
    Nanos one_way_;
    rte_mempool* pool_;
    std::unique_ptr<CoreEnd> a_;
    std::unique_ptr<CoreEnd> b_;
    Filter filter_;
    std::uint32_t hold_distance_ = 2;
    std::deque<InFlight> in_flight_;  // in order of arrival time
    std::vector<InFlight> held_;
    std::vector<WireSegment> log_;
    std::uint64_t delivered_ = 0;
    std::uint64_t dropped_ = 0;
};

}  // namespace sluice::test
