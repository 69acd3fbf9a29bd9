// What a program's work costs a worker (dataplane/app/worker_runtime.hpp, sluice/application.hpp):
//
//   app_runtime/empty_turn/bare         one loop turn with nothing arriving and no program work
//                                       (Worker::poll_once, as sluice-perf drives it); per_turn
//   app_runtime/empty_turn/program      the same with the program runtime installed, as every
//                                       engine started by Application has it: the difference is
//                                       what the runtime adds to every turn; per_turn
//   app_runtime/message_to_self         send_to(this worker) and running it in the next turn,
//                                       32 a turn; per_message
//   app_runtime/timer_arm_and_fire      after(0) and running it, 32 a turn; per_timer
//
// On a real worker over a net_ring port (tcp_rig.hpp), with a manual clock.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include <rte_ring.h>

#include "bench/micro/micro_benchmarks.hpp"
#include "bench/micro/micro_environment.hpp"
#include "bench/micro/tcp_rig.hpp"
#include "dataplane/app/worker_runtime.hpp"

namespace sluice::bench {

namespace {

constexpr unsigned kBatch = 32;

// The rig's worker with the program runtime installed, joined to itself by one message ring.
struct ProgramRig {
    TcpRig rig{TcpRig::Options{}};
    rte_ring* ring = nullptr;
    std::unique_ptr<app::WorkerRuntime> runtime;
    app::StopRequest stop;

    ProgramRig() {
        static unsigned made = 0;
        const std::string name = "bench_msg_" + std::to_string(made++);
        ring = rte_ring_create_elem(name.c_str(), sizeof(Task), app::WorkerRuntime::kRingSlots,
                                    SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (ring == nullptr)
            throw std::runtime_error("cannot create the message ring");
        app::WorkerRuntimeConfig rc;
        rc.to_worker = {ring};
        rc.from_worker = {ring};
        rc.stop = &stop;
        runtime = std::make_unique<app::WorkerRuntime>(rig.worker(), rc);
        rig.worker().set_poller(runtime.get());
        rig.worker().poll_once();  // the start hooks' turn
    }
    ~ProgramRig() {
        rig.worker().set_poller(nullptr);
        runtime.reset();
        rte_ring_free(ring);
    }
};

std::uint64_t g_sink = 0;

void empty_turn_bare(benchmark::State& state) {
    TcpRig rig{TcpRig::Options{}};
    for (auto _ : state)
        benchmark::DoNotOptimize(rig.worker().poll_once());
    state.counters["per_turn"] = per_unit(1);
}

void empty_turn_program(benchmark::State& state) {
    ProgramRig p;
    for (auto _ : state)
        benchmark::DoNotOptimize(p.rig.worker().poll_once());
    state.counters["per_turn"] = per_unit(1);
}

void message_to_self(benchmark::State& state) {
    ProgramRig p;
    for (auto _ : state) {
        for (unsigned i = 0; i < kBatch; ++i) {
            if (!p.runtime->send_to(0, [i](WorkerContext&) { g_sink += i; }))
                state.SkipWithError("the ring refused a message");
        }
        p.rig.worker().poll_once();
    }
    state.counters["per_message"] = per_unit(kBatch);
}

void timer_arm_and_fire(benchmark::State& state) {
    ProgramRig p;
    for (auto _ : state) {
        for (unsigned i = 0; i < kBatch; ++i) {
            if (!p.runtime->after(Nanos{0}, [i](WorkerContext&) { g_sink += i; }))
                state.SkipWithError("no timer free");
        }
        p.rig.clock().advance(Nanos{1000});
        p.rig.worker().poll_once();
    }
    state.counters["per_timer"] = per_unit(kBatch);
}

}  // namespace

void register_app_runtime_benchmarks() {
    with_min(benchmark::RegisterBenchmark("app_runtime/empty_turn/bare", empty_turn_bare));
    with_min(benchmark::RegisterBenchmark("app_runtime/empty_turn/program", empty_turn_program));
    with_min(benchmark::RegisterBenchmark("app_runtime/message_to_self", message_to_self));
    with_min(benchmark::RegisterBenchmark("app_runtime/timer_arm_and_fire", timer_arm_and_fire));
}

}  // namespace sluice::bench
