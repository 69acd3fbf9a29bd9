// The socket-like layer: a classic non-blocking server and client written against it, driven by
// the peer's segments, with readiness from wait().
#include <sluice/sockets.hpp>

#include <gtest/gtest.h>

#include "tests/support/tcp_fixture.hpp"

namespace sluice::test {
namespace {

using namespace wire::tcp_flag;
using api::SocketEvent;
namespace ready = api::ready;

constexpr std::uint16_t kPort = 8080;

class SocketsTest : public TcpFixture {
  protected:
    api::Sockets& sockets() {
        if (!sockets_)
            sockets_ = std::make_unique<api::Sockets>(stack(), 16);
        return *sockets_;
    }
    void TearDown() override {
        sockets_.reset();
        TcpFixture::TearDown();
    }
    std::uint32_t events_for(int fd) {
        std::array<SocketEvent, 16> ev{};
        const std::size_t n = sockets().wait(ev);
        for (std::size_t i = 0; i < n; ++i) {
            if (ev[i].fd == fd)
                return ev[i].events;
        }
        return 0;
    }
    int listening_socket() {
        const int fd = sockets().socket();
        EXPECT_GE(fd, 0);
        EXPECT_EQ(sockets().bind(fd, kOurIp, kPort), 0);
        EXPECT_EQ(sockets().listen(fd, 8), 0);
        EXPECT_EQ(sockets().watch(fd, ready::kIn), 0);
        return fd;
    }
    // The peer connects to kPort; returns the SYN-ACK's sequence number + 1.
    std::uint32_t peer_connects() {
        inject(Seg{.flags = kSyn, .seq = peer_seq, .destination_port = kPort});
        const Sent synack = expect_one();
        peer_seq += 1;
        inject(Seg{.seq = peer_seq, .ack = synack.seq() + 1, .destination_port = kPort});
        return synack.seq() + 1;
    }
    std::unique_ptr<api::Sockets> sockets_;
};

TEST_F(SocketsTest, ServerAcceptsReadsWritesAndSeesEof) {
    const int lfd = listening_socket();
    EXPECT_EQ(sockets().accept(lfd), -EAGAIN);
    EXPECT_EQ(events_for(lfd), 0u);

    our_seq = peer_connects();
    EXPECT_EQ(events_for(lfd), ready::kIn);
    flow::FourTuple tuple;
    const int fd = sockets().accept(lfd, &tuple);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(tuple.remote_port, kPeerPort);
    EXPECT_EQ(tuple.local_port, kPort);
    EXPECT_EQ(sockets().accept(lfd), -EAGAIN);
    ASSERT_EQ(sockets().watch(fd, ready::kIn | ready::kOut), 0);
    EXPECT_EQ(events_for(fd), ready::kOut) << "writable, nothing to read yet";

    std::array<std::byte, 64> buf{};
    EXPECT_EQ(sockets().read(fd, buf), -EAGAIN);
    inject(
        Seg{.seq = peer_seq, .ack = our_seq, .payload = bytes("GET /"), .destination_port = kPort});
    peer_seq += 5;
    EXPECT_EQ(events_for(fd), ready::kIn | ready::kOut);
    EXPECT_EQ(events_for(fd), ready::kIn | ready::kOut) << "level-triggered: still ready";
    EXPECT_EQ(sockets().read(fd, buf), 5);
    EXPECT_EQ(std::vector<std::byte>(buf.begin(), buf.begin() + 5), bytes("GET /"));

    EXPECT_EQ(sockets().write(fd, bytes("200")), 3);
    const Sent reply = expect_one();
    EXPECT_EQ(reply.payload, bytes("200"));

    inject(
        Seg{.flags = kFin | kAck, .seq = peer_seq, .ack = our_seq + 3, .destination_port = kPort});
    take();
    EXPECT_TRUE(events_for(fd) & ready::kIn) << "end of stream is readable";
    EXPECT_FALSE(events_for(fd) & ready::kRdHup) << "as with epoll, only when asked for";
    ASSERT_EQ(sockets().watch(fd, ready::kIn | ready::kRdHup), 0);
    EXPECT_TRUE(events_for(fd) & ready::kRdHup);
    EXPECT_EQ(sockets().read(fd, buf), 0) << "end of stream";
    EXPECT_EQ(sockets().close(fd), 0);
    EXPECT_TRUE(expect_one().has(kFin));
    EXPECT_EQ(sockets().close(fd), -EBADF);
    EXPECT_EQ(sockets().close(lfd), 0);
}

TEST_F(SocketsTest, ClientConnectsInProgressThenWritable) {
    const int fd = sockets().socket();
    ASSERT_EQ(sockets().connect(fd, kPeerIp, 9000), -EINPROGRESS);
    ASSERT_EQ(sockets().watch(fd, ready::kOut), 0);
    const Sent syn = expect_one();
    EXPECT_EQ(events_for(fd), 0u) << "not writable before the handshake";
    EXPECT_EQ(sockets().connect(fd, kPeerIp, 9000), -EALREADY);
    inject(Seg{.flags = kSyn | kAck,
               .seq = 777,
               .ack = syn.seq() + 1,
               .source_port = 9000,
               .destination_port = syn.tcp.source_port});
    take();
    EXPECT_EQ(events_for(fd), ready::kOut);
    EXPECT_EQ(sockets().take_error(fd), 0);
    EXPECT_EQ(sockets().write(fd, bytes("hi")), 2);
    EXPECT_EQ(expect_one().payload, bytes("hi"));
    EXPECT_EQ(sockets().connect(fd, kPeerIp, 9000), -EISCONN);
}

TEST_F(SocketsTest, RefusedConnectShowsAsErrorWithSoError) {
    const int fd = sockets().socket();
    ASSERT_EQ(sockets().connect(fd, kPeerIp, 9000), -EINPROGRESS);
    ASSERT_EQ(sockets().watch(fd, ready::kOut), 0);
    const Sent syn = expect_one();
    inject(Seg{.flags = kRst | kAck,
               .ack = syn.seq() + 1,
               .source_port = 9000,
               .destination_port = syn.tcp.source_port});
    EXPECT_TRUE(events_for(fd) & ready::kErr);
    EXPECT_EQ(sockets().take_error(fd), ECONNREFUSED);
    EXPECT_EQ(sockets().take_error(fd), 0) << "SO_ERROR clears when read";
    EXPECT_EQ(sockets().write(fd, bytes("x")), -EPIPE);
    EXPECT_EQ(sockets().close(fd), 0);
}

TEST_F(SocketsTest, ResetConnectionReportsEconnreset) {
    const int lfd = listening_socket();
    our_seq = peer_connects();
    const int fd = sockets().accept(lfd);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(sockets().watch(fd, ready::kIn), 0);
    inject(Seg{.flags = kRst, .seq = peer_seq, .destination_port = kPort});
    EXPECT_TRUE(events_for(fd) & ready::kHup);
    std::array<std::byte, 8> buf{};
    EXPECT_EQ(sockets().read(fd, buf), -ECONNRESET);
    EXPECT_EQ(sockets().close(fd), 0);
}

TEST_F(SocketsTest, ErrnoForMisuse) {
    EXPECT_EQ(sockets().close(3), -EBADF);
    EXPECT_EQ(sockets().listen(42, 1), -EBADF);
    const int fd = sockets().socket();
    EXPECT_EQ(sockets().listen(fd, 1), -EINVAL) << "not bound";
    std::array<std::byte, 4> buf{};
    EXPECT_EQ(sockets().read(fd, buf), -ENOTCONN);
    const int a = listening_socket();
    const int b = sockets().socket();
    EXPECT_EQ(sockets().bind(b, kOurIp, kPort), -EADDRINUSE);
    (void)a;
    // Descriptors run out.
    int last = 0;
    while (last >= 0)
        last = sockets().socket();
    EXPECT_EQ(last, -EMFILE);
}

TEST_F(SocketsTest, UnacceptedConnectionThatResetsLeavesTheBacklog) {
    const int lfd = listening_socket();
    our_seq = peer_connects();
    inject(Seg{.flags = kRst, .seq = peer_seq, .destination_port = kPort});
    EXPECT_EQ(sockets().accept(lfd), -EAGAIN);
    EXPECT_EQ(sockets().open_sockets(), 1u);
}

}  // namespace
}  // namespace sluice::test
