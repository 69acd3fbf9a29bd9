"""Two workers on two queues against the Linux kernel (issue: control plane and multi-core).

The engine runs `--workers 2` on `net_af_packet` with `qpairs=2`: the kernel spreads frames over the
two queues by its own flow hash (PACKET_FANOUT), which the engine can neither set nor read, so the
engine's RSS-aware port choice is not available and software steering carries what lands on the
wrong worker. Passive opens need no steering (every frame of a flow lands on one queue); active
opens do, for the answers that the kernel's hash puts on the other worker's queue.
"""
from __future__ import annotations

import re

import pytest

from test_tcp import run_peer, server_result, start_server

CONNECTIONS = 2000

# CONNECTIONS HTTP requests, `parallel` at a time, each on a new connection.
PARALLEL_CLIENT = r"""
import concurrent.futures
request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
expected = pattern(cfg["body"])

def one(i):
    head, _, body = fetch(cfg["ip"], cfg["port"], request).partition(b"\r\n\r\n")
    return head.startswith(b"HTTP/1.1 200 OK") and body == expected

ok = 0
errors = []
with concurrent.futures.ThreadPoolExecutor(cfg["parallel"]) as pool:
    for f in [pool.submit(one, i) for i in range(cfg["count"])]:
        try:
            ok += 1 if f.result() else 0
        except Exception as e:
            errors.append(repr(e))
done(ok=ok, errors=errors[:5])
"""

# Echoes each connection until EOF, then closes; many connections at once.
MANY_ECHO_SERVER = r"""
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((cfg["ip"], cfg["port"]))
l.listen(4096)
l.settimeout(cfg["accept_timeout"])
print("LISTENING", flush=True)
served = 0
def serve(c):
    c.settimeout(60)
    while True:
        b = c.recv(65536)
        if not b:
            break
        c.sendall(b)
    c.close()
try:
    while served < cfg["count"]:
        c, _ = l.accept()
        served += 1
        threading.Thread(target=serve, args=(c,), daemon=True).start()
except socket.timeout:
    pass
time.sleep(1)
done(served=served)
"""

SERVER_PORT = 9000
FLEET_LINE = re.compile(r"^sluice: client: (\d+) connections of \d+ bytes each, (\d+) succeeded, "
                        r"(\d+) failed")


@pytest.mark.lab(queues=2, engine_args=["--workers", "2", "--serve", "http:80"])
def test_linux_clients_are_spread_over_both_workers(lab):
    r = run_peer(lab, PARALLEL_CLIENT, {"ip": lab.engine_ip, "port": 80, "body": 1024,
                                        "count": CONNECTIONS, "parallel": 16}, timeout=300)
    assert r["ok"] == CONNECTIONS and not r["errors"], r
    c = lab.stop()
    opens = [c["worker.0.tcp_passive_opens"], c["worker.1.tcp_passive_opens"]]
    assert sum(opens) == CONNECTIONS, c
    # Each worker gets a share (the kernel's flow hash is close to even; a tenth is plenty).
    assert min(opens) > CONNECTIONS // 10, opens
    # Every frame of a connection reached the worker that owns it: nothing was steered, and no
    # worker answered a stranger's segment with a RST.
    assert c["steered_in"] == 0 and c["steered_out"] == 0, c
    assert c["tcp_resets_sent"] == 0, c


def run_fleet(lab, steering: str) -> dict:
    server = start_server(lab, MANY_ECHO_SERVER, {"ip": lab.peer_ip, "port": SERVER_PORT,
                                                  "accept_timeout": 60, "count": CONNECTIONS})
    lab.start_engine(["--workers", "2", "--steering", steering,
                      "--connect", f"{lab.peer_ip}:{SERVER_PORT}", "--client-bytes", "1000",
                      "--client-connections", str(CONNECTIONS), "--client-parallel", "16"])
    status = lab.wait_engine_exit(timeout=300)
    served = server_result(server)
    lines = [line for line in lab.engine_stdout if line.startswith("sluice: client:")]
    assert lines, lab.output()
    m = FLEET_LINE.match(lines[-1])
    assert m, lines[-1]
    assert status == 0, f"engine exited {status}\n{lab.output()}"
    assert (int(m.group(1)), int(m.group(2)), int(m.group(3))) == (CONNECTIONS, CONNECTIONS, 0)
    assert served["served"] == CONNECTIONS, served
    return lab.counters


@pytest.mark.lab(queues=2, start_engine=False)
def test_engine_client_opens_2000_connections_across_two_workers(lab):
    c = run_fleet(lab, "auto")
    assert c["tcp_active_opens"] == CONNECTIONS, c
    assert c["tcp_resets_sent"] == 0, c
    # af_packet's fan-out cannot be programmed: answers on the other queue were steered to the
    # worker that opened the connection, and all of them arrived.
    assert c["worker.1.steered_out"] > 0, c
    assert c["steered_in"] == c["steered_out"], c
    assert c["steering_ring_full"] == 0, c
    # Ports came from the control plane in blocks: more than the initial share was needed.
    assert c["ephemeral_refills"] > 0, c


@pytest.mark.lab(queues=2, start_engine=False)
def test_forcing_rss_steering_on_a_device_without_rss_is_refused(lab):
    with pytest.raises(RuntimeError) as refused:
        lab.start_engine(["--workers", "2", "--steering", "rss", "--serve", "http:80"])
    text = str(refused.value)
    assert "exited with 1 before it was ready" in text, text
    assert "--steering rss: port net_af_packet0" in text, text


@pytest.mark.lab(start_engine=False)
def test_more_workers_than_lcores_is_refused(lab):
    with pytest.raises(RuntimeError) as refused:
        lab.start_engine(["--workers", "2", "--serve", "http:80"])
    text = str(refused.value)
    assert "exited with 1 before it was ready" in text, text
    assert "--workers 2 needs as many lcores" in text, text


# Echoes every connection until EOF, then closes: one thread, a selector, as many connections
# as come (ten thousand at once), each counted when it has echoed and closed.
BURST_ECHO_SERVER = r"""
import resource, selectors
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((cfg["ip"], cfg["port"]))
l.listen(65535)
l.setblocking(False)
sel = selectors.DefaultSelector()
sel.register(l, selectors.EVENT_READ)
print("LISTENING", flush=True)
served = accepted = 0
deadline = time.monotonic() + cfg["timeout"]
while served < cfg["count"] and time.monotonic() < deadline:
    for key, _ in sel.select(timeout=1):
        s = key.fileobj
        if s is l:
            while True:
                try:
                    c, _ = l.accept()
                except BlockingIOError:
                    break
                accepted += 1
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ)
            continue
        try:
            b = s.recv(65536)
        except ConnectionError:
            b = b""
        if b:
            s.sendall(b)  # a byte or two: the send buffer takes it
        else:
            sel.unregister(s)
            s.close()
            served += 1
done(served=served, accepted=accepted)
"""


@pytest.mark.lab(start_engine=False)
def test_ten_thousand_connects_in_one_turn_all_establish_without_a_retransmission(lab):
    # The engine's client issues all 10,000 connect()s before its worker's first loop turn, while
    # the peer's address is still unresolved: every SYN waits behind one ARP request, then they
    # leave a few per turn while the receive queue keeps up. None may be lost (each loss would
    # cost its connection a 1 s retransmission). Each held SYN is an mbuf: --mbufs has room.
    count = 10000
    # The listener's queues in the peer's namespace, sized for the burst.
    lab.run_in_ns("sysctl", "-qw", "net.core.somaxconn=65535", check=True)
    lab.run_in_ns("sysctl", "-qw", "net.ipv4.tcp_max_syn_backlog=65535", check=True)
    server = start_server(lab, BURST_ECHO_SERVER, {"ip": lab.peer_ip, "port": SERVER_PORT,
                                                   "count": count, "timeout": 240})
    lab.start_engine(["--mbufs", "32767", "--connect", f"{lab.peer_ip}:{SERVER_PORT}",
                      "--client-bytes", "1", "--client-connections", str(count),
                      "--client-parallel", str(count)])
    status = lab.wait_engine_exit(timeout=300)
    served = server_result(server)
    lines = [line for line in lab.engine_stdout if line.startswith("sluice: client:")]
    assert lines and FLEET_LINE.match(lines[-1]), lab.output()
    m = FLEET_LINE.match(lines[-1])
    assert status == 0, f"engine exited {status}\n{lab.output()}"
    assert (int(m.group(1)), int(m.group(2)), int(m.group(3))) == (count, count, 0), lines[-1]
    assert served == {"served": count, "accepted": count}, served
    c = lab.counters
    assert c["tcp_active_opens"] == count, c
    assert c["tcp_retransmitted_segments"] == 0 and c["tcp_timeouts"] == 0, c
    assert c.get("drop.neighbor_queue_full", 0) == 0, c
