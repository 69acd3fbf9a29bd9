#include "drivers/faulty_link.hpp"

#include <algorithm>
#include <array>

namespace sluice::drivers {

namespace {

// A frame whose every segment is direct and held by us alone may be written in place.
bool writable_in_place(const rte_mbuf* frame) {
    for (const rte_mbuf* seg = frame; seg != nullptr; seg = seg->next) {
        if (!RTE_MBUF_DIRECT(seg) || rte_mbuf_refcnt_read(seg) != 1)
            return false;
    }
    return true;
}

std::byte* byte_at(rte_mbuf* frame, std::uint32_t offset) {
    rte_mbuf* seg = frame;
    while (offset >= seg->data_len) {
        offset -= seg->data_len;
        seg = seg->next;
    }
    return rte_pktmbuf_mtod_offset(seg, std::byte*, offset);
}

// The time `bytes` take at `bps`, rounded up so that a rate is never exceeded.
Nanos serialisation(std::uint32_t bytes, std::uint64_t bps) {
    const unsigned __int128 bit_ns = static_cast<unsigned __int128>(bytes) * 8 * 1'000'000'000;
    return Nanos(static_cast<std::int64_t>((bit_ns + bps - 1) / bps));
}

}  // namespace

void FaultCounters::for_each(
    const std::function<void(std::string_view, std::uint64_t)>& visit) const {
#define SLUICE_FAULT_COUNTER_VISIT(name) visit(#name, name);
    SLUICE_FAULT_COUNTERS(SLUICE_FAULT_COUNTER_VISIT)
#undef SLUICE_FAULT_COUNTER_VISIT
}

FaultyLink::FaultyLink(const FaultProfile& profile, std::uint32_t capacity)
    : profile_(profile), random_(profile.seed), capacity_(std::max<std::uint32_t>(capacity, 1)) {
    held_.reserve(capacity_);
    if (profile_.rate_bps > 0)
        departures_.resize(profile_.queue_frames);
}

FaultyLink::~FaultyLink() {
    for (const Held& h : held_)
        rte_pktmbuf_free(h.frame);
}

void FaultyLink::offer(rte_mbuf* frame, Nanos now) {
    counters_.offered += 1;
    const Nanos left_bottleneck = leave_bottleneck(*frame, now);
    if (left_bottleneck == kNever) {
        counters_.dropped_queue += 1;
        rte_pktmbuf_free(frame);
        return;
    }
    if (lost()) {
        counters_.dropped_loss += 1;
        rte_pktmbuf_free(frame);
        return;
    }
    rte_mbuf* duplicate = nullptr;
    if (random_.chance(profile_.duplicate)) {
        duplicate = rte_pktmbuf_copy(frame, frame->pool, 0, UINT32_MAX);
        if (duplicate != nullptr) {
            counters_.duplicated += 1;
        } else {
            counters_.duplicate_skipped += 1;
        }
    }
    hold(frame, left_bottleneck);
    if (duplicate != nullptr)
        hold(duplicate, left_bottleneck);
}

std::size_t FaultyLink::poll(Nanos now, std::span<rte_mbuf*> out) {
    std::size_t n = 0;
    while (n < out.size() && !held_.empty() && held_.front().release <= now) {
        std::pop_heap(held_.begin(), held_.end(), later);
        out[n++] = held_.back().frame;
        held_.pop_back();
    }
    counters_.delivered += n;
    return n;
}

Nanos FaultyLink::leave_bottleneck(const rte_mbuf& frame, Nanos now) {
    if (profile_.rate_bps == 0)
        return now;
    const auto size = static_cast<std::uint32_t>(departures_.size());
    // Frames that have left by now no longer take room in the queue.
    while (departures_count_ > 0 && departures_[departures_head_] <= now) {
        departures_head_ = (departures_head_ + 1) % size;
        --departures_count_;
    }
    if (departures_count_ == size)
        return kNever;
    const Nanos leaves =
        std::max(now, last_departure_) + serialisation(frame.pkt_len, profile_.rate_bps);
    departures_[(departures_head_ + departures_count_) % size] = leaves;
    ++departures_count_;
    last_departure_ = leaves;
    return leaves;
}

bool FaultyLink::lost() {
    const GilbertElliott& ge = profile_.burst;
    if (ge.p_good_to_bad > 0) {
        if (random_.chance(in_bad_state_ ? ge.p_bad_to_good : ge.p_good_to_bad))
            in_bad_state_ = !in_bad_state_;
    }
    // Both drawn every time, so that one knob's draws do not depend on the other's outcome.
    const bool burst_loss = random_.chance(in_bad_state_ ? ge.loss_in_bad : ge.loss_in_good);
    const bool independent_loss = random_.chance(profile_.loss);
    return burst_loss || independent_loss;
}

rte_mbuf* FaultyLink::corrupt(rte_mbuf* frame) {
    const std::uint64_t bits = std::uint64_t{frame->pkt_len} * 8;
    // How many bits to flip is drawn even for an empty frame, so that the draws that follow do
    // not depend on frame sizes more than they must.
    const auto flips =
        static_cast<std::size_t>(std::min<std::uint64_t>(1 + random_.below(3), bits));
    if (flips == 0)
        return frame;
    if (!writable_in_place(frame)) {
        rte_mbuf* copy = rte_pktmbuf_copy(frame, frame->pool, 0, UINT32_MAX);
        if (copy == nullptr) {
            counters_.corrupt_skipped += 1;
            return frame;
        }
        rte_pktmbuf_free(frame);
        frame = copy;
    }
    // Distinct bits: flipping one twice would put it back and flip fewer than promised.
    std::array<std::uint64_t, 3> chosen{};
    for (std::size_t i = 0; i < flips; ++i) {
        std::uint64_t bit;
        do {
            bit = random_.below(bits);
        } while (std::find(chosen.begin(), chosen.begin() + i, bit) != chosen.begin() + i);
        chosen[i] = bit;
        *byte_at(frame, static_cast<std::uint32_t>(bit / 8)) ^= std::byte(1u << (bit % 8));
    }
    counters_.corrupted += 1;
    return frame;
}

void FaultyLink::hold(rte_mbuf* frame, Nanos left_bottleneck) {
    if (random_.chance(profile_.corrupt))
        frame = corrupt(frame);
    Nanos release = left_bottleneck + profile_.delay;
    if (profile_.jitter > Nanos{0})
        release += Nanos(random_.below(static_cast<std::uint64_t>(profile_.jitter.count()) + 1));
    if (random_.chance(profile_.reorder)) {
        // Held back by (0, reorder_delay]: some time, however short, or it is not held back.
        release +=
            Nanos(1 + random_.below(static_cast<std::uint64_t>(profile_.reorder_delay.count())));
        counters_.reordered += 1;
    }
    if (held_.size() == capacity_) {
        counters_.dropped_overflow += 1;
        rte_pktmbuf_free(frame);
        return;
    }
    held_.push_back(Held{release, next_order_++, frame});
    std::push_heap(held_.begin(), held_.end(), later);
}

}  // namespace sluice::drivers
