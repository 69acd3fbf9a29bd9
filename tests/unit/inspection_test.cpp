// Looking inside a running worker from another thread (multicore/inspection.hpp), and listen
// orders travelling from the control plane to the workers (control_plane.hpp, worker_links.hpp).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "control/control_plane.hpp"
#include "dataplane/multicore/inspection.hpp"
#include "dataplane/multicore/worker_links.hpp"
#include "tests/support/tcp_fixture.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using Outcome = InspectionMailbox::Outcome;

class Inspection : public TcpFixture {
  protected:
    // The "worker": answers whatever the mailbox is asked, until told to stop.
    void serve_until(const std::atomic<bool>& stop) {
        while (!stop.load()) {
            if (mailbox_.asked())
                mailbox_.answer(counters_, stack(), nullptr);
            std::this_thread::yield();
        }
    }
    InspectionMailbox mailbox_;
};

TEST_F(Inspection, ASnapshotShowsTheConnectionsAndCountersBetweenTwoTurns) {
    for (std::uint16_t port = 42000; port < 42003; ++port) {
        peer_port = port;
        establish_passive();
    }
    std::atomic<bool> stop{false};
    auto snapshot = std::make_unique<WorkerSnapshot>();
    Outcome outcome = Outcome::TimedOut;
    std::thread inspector([&] {
        outcome = mailbox_.inspect(1, 10s, *snapshot);
        stop.store(true);
    });
    serve_until(stop);
    inspector.join();

    ASSERT_EQ(outcome, Outcome::Answered);
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
    std::atomic<bool> stop{false};
    Outcome outcome = Outcome::TimedOut;
    std::thread inspector([&] {
        outcome = mailbox_.inspect(0, 10s, *snapshot);
        stop.store(true);
    });
    serve_until(stop);
    inspector.join();
    EXPECT_EQ(outcome, Outcome::Answered);
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
