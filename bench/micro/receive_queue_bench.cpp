// What holding a segment out of order costs the receiver, against how many are held already
// (dataplane/tcp/receive_queue.hpp). Two orders of arrival, each iteration holding `held`
// segments of 100 bytes behind a missing first one (set up and freed untimed):
// - beyond: each segment lands after everything held, as while a sender fills the window past
//   one lost segment (the usual case);
// - front_up: the highest segment first, then the others from the front up, each landing just
//   before the last one held: the order that makes a sorted list walk everything held on every
//   insert (what a peer choosing which holes to fill could force).
// Counter per_insert is the figure to compare across `held`: flat or logarithmic, not linear.
#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include <stdexcept>
#include <vector>

#include "bench/micro/micro_benchmarks.hpp"
#include "bench/micro/micro_environment.hpp"
#include "dataplane/tcp/queue_field.hpp"
#include "dataplane/tcp/receive_queue.hpp"

namespace sluice::bench {

namespace {

constexpr std::uint16_t kBytes = 100;
constexpr std::uint32_t kUnlimited = 1U << 20;

enum class Order { Beyond, FrontUp };

void out_of_order(benchmark::State& state, Order order) {
    try {
        if (!tcp::register_queue_field())
            throw std::runtime_error("cannot register the queue field");
        const auto held = static_cast<std::uint32_t>(state.range(0));
        // Offsets in arrival order; 0 (the first segment) never arrives.
        std::vector<std::uint32_t> offsets;
        if (order == Order::Beyond) {
            for (std::uint32_t i = 1; i <= held; ++i)
                offsets.push_back(i * kBytes);
        } else {
            offsets.push_back(held * kBytes);
            for (std::uint32_t i = 1; i < held; ++i)
                offsets.push_back(i * kBytes);
        }
        const tcp::SeqNum rcv_nxt(0x7fff'0000U);
        std::vector<rte_mbuf*> segments(held);
        double seconds = 0;
        std::uint64_t inserts = 0;
        for (auto _ : state) {
            tcp::ReceiveQueue queue;
            if (rte_pktmbuf_alloc_bulk(packet_pool(), segments.data(), held) != 0)
                throw std::runtime_error("the pool ran out of mbufs");
            for (rte_mbuf* m : segments)
                rte_pktmbuf_append(m, kBytes);
            const std::uint64_t start = rte_rdtsc();
            for (std::uint32_t i = 0; i < held; ++i)
                queue.insert(segments[i], rcv_nxt + offsets[i], rcv_nxt, kUnlimited);
            const std::uint64_t took = rte_rdtsc() - start;
            if (queue.out_of_order_segments() != held)
                throw std::runtime_error("a segment was not held");
            const double s = static_cast<double>(took) / static_cast<double>(rte_get_tsc_hz());
            state.SetIterationTime(s);
            seconds += s;
            inserts += held;
            queue.clear();
        }
        state.counters["per_insert"] =
            benchmark::Counter(inserts == 0 ? 0.0 : seconds * 1e9 / static_cast<double>(inserts));
        state.counters["held"] = held;
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

}  // namespace

void register_receive_queue_benchmarks() {
    for (const auto& [name, order] :
         {std::pair{"receive_queue/out_of_order/beyond", Order::Beyond},
          std::pair{"receive_queue/out_of_order/front_up", Order::FrontUp}}) {
        with_min(benchmark::RegisterBenchmark(name, out_of_order, order))
            ->Arg(64)
            ->Arg(1024)
            ->Arg(4096)
            ->UseManualTime();
    }
}

}  // namespace sluice::bench
