// Looking inside a running worker from another thread (multicore/inspection.hpp), and listeners
// installed at run time through the control plane (control_plane.hpp, worker_links.hpp).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "control/control_plane.hpp"
#include "dataplane/multicore/inspection.hpp"
#include "dataplane/multicore/worker_links.hpp"
#include "dataplane/worker.hpp"
#include "tests/support/eal_environment.hpp"
#include "tests/support/ring_port.hpp"
#include "tests/support/tcp_fixture.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using Outcome = InspectionMailbox::Outcome;

class Inspection : public TcpFixture {
  protected:
    // An inspector thread asks from `offset` while this thread plays the worker, answering
    // between its "turns" until the inspector has its answer.
    Outcome inspect_while_serving(std::optional<std::uint32_t> offset, WorkerSnapshot& out) {
        std::atomic<bool> stop{false};
        Outcome outcome = Outcome::TimedOut;
        std::thread inspector([&] {
            outcome = mailbox_.inspect(offset, 10s, out);
            stop.store(true);
        });
        while (!stop.load()) {
            if (mailbox_.asked())
                mailbox_.answer(counters_, stack(), nullptr);
            std::this_thread::yield();
        }
        inspector.join();
        return outcome;
    }
    InspectionMailbox mailbox_;
};

TEST_F(Inspection, ASnapshotShowsTheConnectionsAndCountersBetweenTwoTurns) {
    for (std::uint16_t port = 42000; port < 42003; ++port) {
        peer_port = port;
        establish_passive();
    }
    auto snapshot = std::make_unique<WorkerSnapshot>();
    ASSERT_EQ(inspect_while_serving(1, *snapshot), Outcome::Answered);
    EXPECT_EQ(snapshot->connections, 3u);
    EXPECT_EQ(snapshot->by_state[static_cast<std::size_t>(tcp::TcpState::Established)], 3u);
    EXPECT_EQ(snapshot->counters.tcp_passive_opens, 3u);
    EXPECT_EQ(snapshot->listeners, 1u);
    // From offset 1: the second and third connection.
    ASSERT_EQ(snapshot->page_offset, 1u);
    ASSERT_EQ(snapshot->page_count, 2u);
    EXPECT_EQ(snapshot->page[0].tuple.remote_port, 42001);
    EXPECT_EQ(snapshot->page[1].tuple.remote_port, 42002);
    EXPECT_EQ(snapshot->page[1].state, tcp::TcpState::Established);
}

TEST_F(Inspection, AWorkerThatDoesNotAnswerTimesOutThenBusyUntilItCatchesUp) {
    auto snapshot = std::make_unique<WorkerSnapshot>();
    EXPECT_EQ(mailbox_.inspect(0, 20ms, *snapshot), Outcome::TimedOut);
    EXPECT_TRUE(mailbox_.asked());
    EXPECT_EQ(mailbox_.inspect(0, 20ms, *snapshot), Outcome::Busy);
    // The worker comes back and answers the old request; the next inspection works.
    mailbox_.answer(counters_, stack(), nullptr);
    EXPECT_FALSE(mailbox_.asked());
    EXPECT_EQ(inspect_while_serving(0, *snapshot), Outcome::Answered);
}

TEST_F(Inspection, CountersAloneLeaveTheConnectionsUnlisted) {
    establish_passive();
    auto snapshot = std::make_unique<WorkerSnapshot>();
    ASSERT_EQ(inspect_while_serving(std::nullopt, *snapshot), Outcome::Answered);
    EXPECT_EQ(snapshot->connections, 1u);
    EXPECT_EQ(snapshot->page_count, 0u) << "the flow table is walked only for a page";
}

TEST(ListenOrders, ReachEveryWorkerRingOnTheControlLoopsTurn) {
    auto cp = control::ControlPlane::create(2, {wire::Ipv4Address::from_octets(10, 0, 0, 2)}, 49152,
                                            65535);
    ASSERT_TRUE(cp.has_value()) << cp.error();
    ListenOrder order;
    order.port = 8080;
    cp.value()->post(&order);
    for (std::uint16_t w = 0; w < 2; ++w)
        EXPECT_EQ(rte_ring_count(cp.value()->from_control(w)), 0u) << "nothing before the turn";
    cp.value()->poll();
    for (std::uint16_t w = 0; w < 2; ++w) {
        void* item = nullptr;
        ASSERT_EQ(rte_ring_dequeue(cp.value()->from_control(w), &item), 0);
        const auto word = reinterpret_cast<std::uintptr_t>(item);
        EXPECT_NE(word & control_message::kListenOrder, 0u);
        EXPECT_EQ(reinterpret_cast<ListenOrder*>(word & ~control_message::kListenOrder), &order);
    }
    cp.value()->poll();
    EXPECT_EQ(rte_ring_count(cp.value()->from_control(0)), 0u) << "an order is sent once";
}

}  // namespace
}  // namespace sluice::test

namespace sluice::test {
namespace {

// Two workers on ports of their own, linked to a control plane that checks listen requests
// against a registry.
class WorkerListenRequests : public ::testing::Test {
  protected:
    void SetUp() override {
        auto cp = control::ControlPlane::create(2, {kIp}, 49152, 65535);
        ASSERT_TRUE(cp.has_value()) << cp.error();
        control_ = std::move(cp.value());
        control_->set_listen_registry(&registry_);
        for (std::uint16_t w = 0; w < 2; ++w) {
            WorkerConfig wc;
            wc.id = w;
            wc.port_id = ports_[w].port_id();
            wc.interface.address = {kIp, 24};
            wc.neighbors.capacity = 8;
            wc.tcp.max_connections = 64;
            auto worker = Worker::create(wc, packet_pool(), clock_);
            ASSERT_TRUE(worker.has_value()) << worker.error();
            WorkerLinksConfig links;
            links.worker = w;
            links.local_addresses = {kIp};
            links.pool = packet_pool();
            links.to_control = control_->to_control(w);
            links.from_control = control_->from_control(w);
            worker.value()->link(std::move(links));
            workers_.push_back(std::move(worker.value()));
        }
    }
    // Turns of the workers and the control loop until the order is answered (or a bound).
    void run_until_done(const ListenOrder& order) {
        for (int turn = 0; turn < 100 && order.done.load() < 2; ++turn) {
            control_->poll();
            for (auto& w : workers_)
                w->poll_once();
        }
    }
    std::unique_ptr<ListenOrder> order_for(std::uint16_t port) {
        auto order = std::make_unique<ListenOrder>();
        order->port = port;
        order->handlers = {&handlers_[0], &handlers_[1]};
        return order;
    }

    static inline const wire::Ipv4Address kIp = wire::Ipv4Address::from_octets(10, 0, 5, 2);
    ManualClock clock_{std::chrono::seconds(1)};
    RingPort ports_[2];
    control::ListenRegistry registry_{49152, 65535, /*allow_privileged=*/false};
    std::unique_ptr<control::ControlPlane> control_;
    std::vector<std::unique_ptr<Worker>> workers_;
    RecordingHandler handlers_[2];
};

TEST_F(WorkerListenRequests, AWorkersRequestIsCheckedOnceAndInstalledOnEveryWorker) {
    auto order = order_for(8080);
    ASSERT_TRUE(workers_[1]->links()->request_listen(*order));
    EXPECT_FALSE(workers_[0]->tcp().has_listener(8080)) << "nothing happens without the control";
    run_until_done(*order);
    ASSERT_EQ(order->done.load(), 2);
    EXPECT_EQ(order->refused.load(), 0);
    EXPECT_EQ(order->failed.load(), 0);
    EXPECT_TRUE(workers_[0]->tcp().has_listener(8080));
    EXPECT_TRUE(workers_[1]->tcp().has_listener(8080));
    ASSERT_EQ(registry_.entries().size(), 1u);
    EXPECT_EQ(registry_.entries()[0].holder, "application");

    // The same port again is refused by the registry, and nothing changes on the workers.
    auto again = order_for(8080);
    ASSERT_TRUE(workers_[0]->links()->request_listen(*again));
    run_until_done(*again);
    EXPECT_EQ(again->done.load(), 2);
    EXPECT_EQ(again->refused.load(), EADDRINUSE);
    EXPECT_EQ(registry_.entries().size(), 1u);

    // A privileged port under a policy that refuses them, and port 0 that picks one.
    auto privileged = order_for(80);
    ASSERT_TRUE(workers_[0]->links()->request_listen(*privileged));
    run_until_done(*privileged);
    EXPECT_EQ(privileged->refused.load(), EACCES);
    auto any = order_for(0);
    ASSERT_TRUE(workers_[0]->links()->request_listen(*any));
    run_until_done(*any);
    EXPECT_EQ(any->refused.load(), 0);
    EXPECT_GE(any->port, 1024);
    EXPECT_TRUE(workers_[0]->tcp().has_listener(any->port));
    EXPECT_TRUE(workers_[1]->tcp().has_listener(any->port));
}

}  // namespace
}  // namespace sluice::test
