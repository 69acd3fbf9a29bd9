// A worker as a program sees it (sluice/application.hpp, dataplane/app/worker_runtime.hpp):
// messages between workers and timers, on real workers over net_ring ports and a manual clock.
#include "dataplane/app/worker_runtime.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <sluice/sockets.hpp>

#include "dataplane/worker.hpp"
#include "tests/support/eal_environment.hpp"
#include "tests/support/ring_port.hpp"

namespace sluice {
namespace {

using namespace std::chrono_literals;

// What the tasks below did, in order: "worker:what".
std::vector<std::string> g_log;

void note(WorkerContext& w, const char* what) {
    g_log.push_back(std::to_string(w.id()) + ":" + what);
}

class WorkerRuntimeTest : public ::testing::Test {
  protected:
    static constexpr unsigned kWorkers = 2;

    void SetUp() override { g_log.clear(); }
    void TearDown() override {
        runtimes_.clear();
        workers_.clear();
        for (rte_ring* r : rings_)
            rte_ring_free(r);
    }

    // Two workers joined by message rings of `ring_slots`, `timers` timers each.
    void start(unsigned ring_slots = app::WorkerRuntime::kRingSlots, std::uint32_t timers = 64,
               std::vector<std::function<void(WorkerContext&)>> hooks = {}) {
        static unsigned made = 0;
        rings_.assign(kWorkers * kWorkers, nullptr);
        for (unsigned i = 0; i < rings_.size(); ++i) {
            const std::string name = "t_msg_" + std::to_string(made) + "_" + std::to_string(i);
            rings_[i] = rte_ring_create_elem(name.c_str(), sizeof(Task), ring_slots, SOCKET_ID_ANY,
                                             RING_F_SP_ENQ | RING_F_SC_DEQ);
            ASSERT_NE(rings_[i], nullptr);
        }
        ++made;
        for (unsigned w = 0; w < kWorkers; ++w) {
            WorkerConfig config;
            config.id = static_cast<std::uint16_t>(w);
            config.port_id = ports_[w].port_id();
            config.interface.address = wire::Ipv4Interface{
                wire::Ipv4Address::from_octets(10, 0, 0, static_cast<std::uint8_t>(w + 1)), 24};
            auto worker = Worker::create(config, test::packet_pool(), clock_);
            ASSERT_TRUE(worker.has_value()) << worker.error();
            workers_.push_back(std::move(worker.value()));
        }
        for (unsigned w = 0; w < kWorkers; ++w) {
            app::WorkerRuntimeConfig rc;
            rc.workers = kWorkers;
            rc.timer_capacity = timers;
            rc.message_capacity = ring_slots - 1;
            rc.stop = &stop_;
            rc.start_hooks = hooks;
            for (unsigned j = 0; j < kWorkers; ++j) {
                rc.to_worker.push_back(rings_[w * kWorkers + j]);
                rc.from_worker.push_back(rings_[j * kWorkers + w]);
            }
            runtimes_.push_back(std::make_unique<app::WorkerRuntime>(*workers_[w], rc));
            workers_[w]->set_poller(runtimes_.back().get());
        }
    }
    WorkerContext& ctx(unsigned w) { return *runtimes_[w]; }
    void turn(unsigned w) { workers_[w]->poll_once(); }

    test::RingPort ports_[kWorkers];
    ManualClock clock_{1s};
    std::vector<rte_ring*> rings_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<std::unique_ptr<app::WorkerRuntime>> runtimes_;
    app::StopRequest stop_;
};

TEST_F(WorkerRuntimeTest, MessagesRunOnTheTargetWorkerInTheOrderSent) {
    start();
    turn(0);
    for (const char* what : {"a", "b", "c"}) {
        ASSERT_TRUE(ctx(0).send_to(1, [what](WorkerContext& w) { note(w, what); }).ok());
    }
    turn(0);
    EXPECT_TRUE(g_log.empty()) << "a message runs on its target, not its sender";
    turn(1);
    EXPECT_EQ(g_log, (std::vector<std::string>{"1:a", "1:b", "1:c"}));
    EXPECT_EQ(runtimes_[1]->messages_run(), 3U);
}

TEST_F(WorkerRuntimeTest, AMessageToOneselfRunsInTheNextTurnNotThisOne) {
    start();
    ASSERT_TRUE(ctx(0)
                    .send_to(0,
                             [](WorkerContext& w) {
                                 note(w, "first");
                                 (void)w.send_to(
                                     0, [](WorkerContext& again) { note(again, "second"); });
                             })
                    .ok());
    turn(0);
    EXPECT_EQ(g_log, (std::vector<std::string>{"0:first"}));
    turn(0);
    EXPECT_EQ(g_log, (std::vector<std::string>{"0:first", "0:second"}));
}

TEST_F(WorkerRuntimeTest, AFullRingRefusesWithEagainAndANonWorkerWithEinval) {
    start(/*ring_slots=*/16);
    unsigned taken = 0;
    for (; taken < 100; ++taken) {
        auto st = ctx(0).send_to(1, [](WorkerContext& w) { note(w, "m"); });
        if (!st) {
            EXPECT_EQ(st.error(), EAGAIN);
            break;
        }
    }
    EXPECT_EQ(taken, 15U) << "a ring of 16 holds 15";
    auto nowhere = ctx(0).send_to(7, [](WorkerContext& w) { note(w, "lost"); });
    ASSERT_FALSE(nowhere.ok());
    EXPECT_EQ(nowhere.error(), EINVAL);
    // The receiver takes a bounded share per turn, then the rest.
    turn(1);
    EXPECT_EQ(g_log.size(), 15U);
}

TEST_F(WorkerRuntimeTest, TimersRunOnceEachInDeadlineOrderWhenDue) {
    start();
    turn(0);
    ASSERT_TRUE(ctx(0).after(30ms, [](WorkerContext& w) { note(w, "30"); }).has_value());
    ASSERT_TRUE(ctx(0).after(10ms, [](WorkerContext& w) { note(w, "10"); }).has_value());
    ASSERT_TRUE(ctx(0).after(20ms, [](WorkerContext& w) { note(w, "20"); }).has_value());
    ASSERT_TRUE(ctx(0).after(0ms, [](WorkerContext& w) { note(w, "0"); }).has_value());
    turn(0);
    EXPECT_EQ(g_log, (std::vector<std::string>{"0:0"}));
    clock_.advance(15ms);
    turn(0);
    EXPECT_EQ(g_log, (std::vector<std::string>{"0:0", "0:10"}));
    clock_.advance(100ms);
    turn(0);
    turn(0);
    EXPECT_EQ(g_log, (std::vector<std::string>{"0:0", "0:10", "0:20", "0:30"}));
    EXPECT_EQ(runtimes_[0]->timers_armed(), 0U);
}

// Re-arms itself with no delay each time it runs: the socket layer's once-a-turn pattern.
unsigned g_rearmed_runs = 0;
void rearm_at_once(WorkerContext& w) {
    ++g_rearmed_runs;
    (void)w.after(Nanos{0}, [](WorkerContext& again) { rearm_at_once(again); });
}

TEST_F(WorkerRuntimeTest, ATimerReArmedWithNoDelayRunsOnceATurn) {
    start();
    turn(0);
    g_rearmed_runs = 0;
    // Other timers armed, not due: they must not give the re-armed one extra runs.
    for (int i = 0; i < 5; ++i)
        ASSERT_TRUE(ctx(0).after(1s, [](WorkerContext& w) { note(w, "late"); }).has_value());
    ASSERT_TRUE(ctx(0).after(0ms, [](WorkerContext& w) { rearm_at_once(w); }).has_value());
    for (unsigned turns = 1; turns <= 3; ++turns) {
        clock_.advance(1us);
        turn(0);
        EXPECT_EQ(g_rearmed_runs, turns);
    }
    EXPECT_TRUE(g_log.empty());
}

TEST_F(WorkerRuntimeTest, ACancelledTimerNeverRunsAndAStaleIdCancelsNothing) {
    start();
    turn(0);
    auto doomed = ctx(0).after(10ms, [](WorkerContext& w) { note(w, "doomed"); });
    auto kept = ctx(0).after(10ms, [](WorkerContext& w) { note(w, "kept"); });
    ASSERT_TRUE(doomed.has_value() && kept.has_value());
    EXPECT_TRUE(ctx(0).cancel(*doomed));
    EXPECT_FALSE(ctx(0).cancel(*doomed)) << "cancelled once";
    // The freed place is taken again, under a new id: the old one must not cancel it.
    auto reused = ctx(0).after(10ms, [](WorkerContext& w) { note(w, "reused"); });
    ASSERT_TRUE(reused.has_value());
    EXPECT_NE(*reused, *doomed);
    EXPECT_FALSE(ctx(0).cancel(*doomed));
    EXPECT_FALSE(ctx(0).cancel(0));
    clock_.advance(20ms);
    turn(0);
    EXPECT_EQ(g_log.size(), 2U);
    EXPECT_EQ(std::count(g_log.begin(), g_log.end(), "0:doomed"), 0);
    EXPECT_FALSE(ctx(0).cancel(*kept)) << "it already ran";
}

TEST_F(WorkerRuntimeTest, TimersBeyondTheCapacityAreRefusedUntilOneHasRun) {
    start(app::WorkerRuntime::kRingSlots, /*timers=*/4);
    turn(0);
    for (int i = 0; i < 4; ++i)
        ASSERT_TRUE(ctx(0).after(10ms, [](WorkerContext& w) { note(w, "t"); }).has_value());
    auto refused = ctx(0).after(1ms, [](WorkerContext& w) { note(w, "over"); });
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error(), EAGAIN);
    clock_.advance(10ms);
    turn(0);
    EXPECT_EQ(g_log.size(), 4U);
    EXPECT_TRUE(ctx(0).after(1ms, [](WorkerContext& w) { note(w, "t"); }).has_value());
}

TEST_F(WorkerRuntimeTest, StartHooksRunOnceOnEachWorkerAtItsFirstTurn) {
    start(app::WorkerRuntime::kRingSlots, 64, {[](WorkerContext& w) { note(w, "start"); }});
    EXPECT_TRUE(g_log.empty());
    turn(1);
    turn(1);
    turn(0);
    EXPECT_EQ(g_log, (std::vector<std::string>{"1:start", "0:start"}));
}

TEST_F(WorkerRuntimeTest, AProgramBuildsTheSocketLayerOverItsWorker) {
    start();
    api::Sockets sockets(ctx(1), 16);
    const int fd = sockets.socket();
    ASSERT_GE(fd, 0);
    ASSERT_EQ(sockets.bind(fd, wire::Ipv4Address::any(), 8080), 0);
    ASSERT_EQ(sockets.listen(fd, 8), 0);
    EXPECT_TRUE(workers_[1]->tcp().has_listener(8080)) << "on the worker it was built over";
    EXPECT_FALSE(workers_[0]->tcp().has_listener(8080));
    EXPECT_EQ(sockets.close(fd), 0);
    EXPECT_FALSE(workers_[1]->tcp().has_listener(8080));
}

TEST_F(WorkerRuntimeTest, RingsShrinkWithManyWorkersAndSayWhatTheyHold) {
    EXPECT_EQ(app::WorkerRuntime::ring_slots(1), 1024U);
    EXPECT_EQ(app::WorkerRuntime::ring_slots(8), 1024U);
    EXPECT_EQ(app::WorkerRuntime::ring_slots(9), 512U);
    EXPECT_EQ(app::WorkerRuntime::ring_slots(16), 512U);
    EXPECT_EQ(app::WorkerRuntime::ring_slots(64), 128U);
    EXPECT_EQ(app::WorkerRuntime::ring_slots(128), 128U);
    start(/*ring_slots=*/16);
    EXPECT_EQ(ctx(0).message_capacity(), 15U);
}

TEST_F(WorkerRuntimeTest, TheFirstStopAskedForIsTheStatus) {
    start();
    EXPECT_FALSE(stop_.requested.load());
    ctx(1).stop(3);
    ctx(0).stop(5);
    EXPECT_TRUE(stop_.requested.load());
    EXPECT_EQ(stop_.status.load(), 3);
}

}  // namespace
}  // namespace sluice
