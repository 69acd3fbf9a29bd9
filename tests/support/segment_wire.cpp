#include "tests/support/segment_wire.hpp"

#include <gtest/gtest.h>

#include "tests/support/eal_environment.hpp"
#include "tests/support/test_link.hpp"

namespace sluice::test {

namespace {
constexpr Nanos kStep = std::chrono::milliseconds(1);
// A conversation that has not fallen quiet after this many rounds at one instant is looping.
constexpr int kMaxRoundsAtOneInstant = 10'000;
}  // namespace

CoreEnd::CoreEnd(const std::string& name, wire::Ipv4Address ours, const tcp::TcpConfig& config,
                 rte_mempool* pool, const Clock& clock)
    : address(ours) {
    // The checksums are summed and checked in software, as over a wire that promises nothing.
    const TransportLink link{this, ours, 1500, ChecksumOffloads{}};
    auto created = tcp::TcpStack::create(config, link, pool, counters, clock, name);
    if (created)
        tcp = std::move(created.value());
    else
        error = created.error();
}

CoreEnd::~CoreEnd() {
    tcp.reset();
    for (rte_mbuf* m : outbox)
        rte_pktmbuf_free(m);
}

void CoreEnd::send_transport(rte_mbuf* segment, std::uint8_t protocol,
                             wire::Ipv4Address /*destination*/) {
    EXPECT_EQ(protocol, wire::ip_protocol::kTcp);
    outbox.push_back(segment);
}

SegmentWire::SegmentWire(const tcp::TcpConfig& config, Nanos one_way)
    : one_way_(one_way), pool_(packet_pool()) {
    static int n = 0;
    const std::string name = "segwire" + std::to_string(n++);
    a_ = std::make_unique<CoreEnd>(name + "a", kPeerIp, config, pool_, clock_);
    b_ = std::make_unique<CoreEnd>(name + "b", kEngineIp, config, pool_, clock_);
}

SegmentWire::~SegmentWire() {
    for (InFlight& f : in_flight_)
        rte_pktmbuf_free(f.segment.mbuf);
    for (InFlight& f : held_)
        rte_pktmbuf_free(f.segment.mbuf);
    a_.reset();
    b_.reset();
}

bool SegmentWire::send(CoreEnd& from, bool from_a) {
    if (from.outbox.empty())
        return false;
    const CoreEnd& to = from_a ? *b_ : *a_;
    while (!from.outbox.empty()) {
        rte_mbuf* original = from.outbox.front();
        from.outbox.pop_front();
        // A device sends bytes, not the sender's mbuf: a segment sent by reference stays in the
        // sender's queue, and the receiver must not share it.
        rte_mbuf* m = rte_pktmbuf_copy(original, pool_, 0, UINT32_MAX);
        rte_pktmbuf_free(original);
        if (m == nullptr) {
            ADD_FAILURE() << "segment wire: the pool ran out";
            continue;
        }
        const std::span<const std::byte> bytes(rte_pktmbuf_mtod(m, const std::byte*), m->data_len);
        auto th = wire::TcpHeader::parse(bytes, from.address, to.address,
                                         wire::TransportChecksum::Verify);
        if (!th) {
            ADD_FAILURE() << "segment wire: a core sent a segment that does not parse";
            rte_pktmbuf_free(m);
            continue;
        }
        const WireSegment s{from_a, *th, static_cast<std::uint32_t>(m->pkt_len - th->header_length),
                            m, clock_.now()};
        log_.push_back(WireSegment{s.from_a, s.tcp, s.payload, nullptr, s.sent_at});
        const Nanos due = clock_.now() + one_way_;
        switch (filter_ ? filter_(s) : Fate::Deliver) {
            case Fate::Drop:
                dropped_ += 1;
                rte_pktmbuf_free(m);
                break;
            case Fate::Hold:
                held_.push_back(InFlight{due, s, hold_distance_});
                break;
            case Fate::Duplicate:
                if (rte_mbuf* twin = rte_pktmbuf_copy(m, pool_, 0, UINT32_MAX); twin != nullptr)
                    in_flight_.push_back(
                        InFlight{due, WireSegment{from_a, s.tcp, s.payload, twin, s.sent_at}});
                [[fallthrough]];
            case Fate::Deliver:
                in_flight_.push_back(InFlight{due, s});
                break;
        }
    }
    return true;
}

bool SegmentWire::arrive(bool to_b) {
    CoreEnd& to = to_b ? *b_ : *a_;
    bool any = false;
    // The wire keeps order within a direction: every segment takes the same time.
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
        if (it->segment.from_a != to_b) {
            ++it;
            continue;
        }
        if (it->due > clock_.now())
            break;
        const WireSegment s = it->segment;
        it = in_flight_.erase(it);
        deliver(s);
        any = true;
        // A held segment of this direction arrives once enough later ones have overtaken it.
        for (auto h = held_.begin(); h != held_.end();) {
            if (h->segment.from_a == s.from_a && --h->wait_for == 0) {
                deliver(h->segment);
                h = held_.erase(h);
            } else {
                ++h;
            }
        }
    }
    // One that waited long (nothing followed it) arrives anyway, one round trip late.
    for (auto h = held_.begin(); h != held_.end();) {
        if (h->segment.from_a == to_b && h->due + 2 * one_way_ <= clock_.now()) {
            deliver(h->segment);
            h = held_.erase(h);
            any = true;
        } else {
            ++h;
        }
    }
    if (any)
        to.tcp->send_burst_acks();
    return any;
}

void SegmentWire::deliver(const WireSegment& s) {
    const CoreEnd& from = s.from_a ? *a_ : *b_;
    CoreEnd& to = s.from_a ? *b_ : *a_;
    wire::Ipv4Header ip;
    ip.protocol = wire::ip_protocol::kTcp;
    ip.source = from.address;
    ip.destination = to.address;
    ip.total_length = static_cast<std::uint16_t>(wire::Ipv4Header::kMinLength + s.mbuf->pkt_len);
    delivered_ += 1;
    to.tcp->receive(s.mbuf, ip);
}

void SegmentWire::exchange() {
    for (int round = 0; round < kMaxRoundsAtOneInstant; ++round) {
        const bool a_sent = send(*a_, true);
        const bool b_sent = send(*b_, false);
        const bool b_got = arrive(true);
        const bool a_got = arrive(false);
        if (!a_sent && !b_sent && !a_got && !b_got)
            return;
    }
    ADD_FAILURE() << "segment wire: the cores never fell quiet";
}

void SegmentWire::run(Nanos span, const std::function<bool()>& done) {
    const Nanos end = clock_.now() + span;
    exchange();
    while (clock_.now() < end && !(done && done())) {
        const Nanos now = clock_.now();
        const Nanos next_tick((now.count() / kStep.count() + 1) * kStep.count());
        Nanos next = std::min(next_tick, end);
        for (const InFlight& f : in_flight_)
            next = std::min(next, std::max(f.due, now + Nanos{1}));
        for (const InFlight& f : held_)
            next = std::min(next, std::max(f.due + 2 * one_way_, now + Nanos{1}));
        clock_.set(next);
        a_->tcp->poll_timers();
        b_->tcp->poll_timers();
        exchange();
    }
}

}  // namespace sluice::test
