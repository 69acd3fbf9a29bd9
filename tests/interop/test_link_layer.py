"""ARP and ICMP echo against Linux peers: ping, arping, crafted and malformed frames, VLANs,
broadcast echo and the engine's gratuitous ARP announcements.

Every test runs the engine fresh (the `lab` fixture), so its counters belong to that test alone.
Crafted-frame tests end with a valid "control" echo: the engine answers in order on one queue,
so once the control's reply is captured, any reply to the frames sent before it would have
been captured too; and a captured control reply proves both the sniffer and the engine worked.
"""

from __future__ import annotations

import re
import warnings
from typing import Callable, Optional

import pytest

try:
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.l2 import ARP, Dot1Q, Ether
    from scapy.packet import Raw
except ImportError as e:  # the wrong interpreter: say which one is needed
    raise ImportError(f"scapy is missing ({e}): run the interop tests with /usr/bin/python3 "
                      f"(Debian's python3-scapy)") from e

BAD_ID = 0x5B5B  # ICMP identifier of echoes the engine must not answer
CONTROL_ID = 0x600D  # ICMP identifier of the valid echo sent last
PAYLOAD = b"sluice-interop-0123456789abcdef"


# --------------------------------------------------------------------------------------------
# Frame builders (run here, under /usr/bin/python3; the namespace side only sends bytes).


def ether(lab, *, dst: Optional[str] = None, vlan: Optional[int] = None, type: int = 0x0800):
    """Ethernet (and 802.1Q) header from the peer; the ethertype is explicit because scapy
    guesses it only from the layer that follows."""
    if vlan is None:
        return Ether(src=lab.peer_mac, dst=dst or lab.engine_mac, type=type)
    return Ether(src=lab.peer_mac, dst=dst or lab.engine_mac) / Dot1Q(vlan=vlan, type=type)


def echo(lab, ident: int, *, vlan: Optional[int] = None, **ip_fields) -> bytes:
    ip = IP(src=lab.peer_ip, dst=lab.engine_ip, **ip_fields)
    return bytes(ether(lab, vlan=vlan) / ip / ICMP(type=8, id=ident, seq=1) / Raw(PAYLOAD))


def control_echo(lab) -> bytes:
    """A valid echo request (tagged when the lab has a VLAN) that the engine must answer."""
    return echo(lab, CONTROL_ID, vlan=lab.vlan)


def flip16(frame: bytes, offset: int) -> bytes:
    """Corrupt the 16-bit field at offset (XOR 0x5555 can never land on an equivalent value)."""
    b = bytearray(frame)
    b[offset] ^= 0x55
    b[offset + 1] ^= 0x55
    return bytes(b)


ETH = 14
IP_CHECKSUM = ETH + 10
ICMP_CHECKSUM = ETH + 20 + 2


def bad_ipv4_checksum(lab) -> bytes:
    return flip16(echo(lab, BAD_ID), IP_CHECKSUM)


def bad_icmp_checksum(lab) -> bytes:
    return flip16(echo(lab, BAD_ID), ICMP_CHECKSUM)


def ihl_below_five(lab) -> bytes:
    b = bytearray(echo(lab, BAD_ID))
    b[ETH] = 0x44  # version 4, IHL 4 (16 bytes): checked before the checksum
    return bytes(b)


def total_length_beyond_frame(lab) -> bytes:
    return echo(lab, BAD_ID, len=1000)  # scapy keeps the header checksum valid


def total_length_below_header(lab) -> bytes:
    return echo(lab, BAD_ID, len=12)


def ipv4_truncated(lab) -> bytes:
    return bytes(ether(lab) / Raw(bytes([0x45]) + bytes(9)))


def ipv4_bad_version(lab) -> bytes:
    b = bytearray(echo(lab, BAD_ID))
    b[ETH] = 0x65  # version 6 inside an IPv4 ethertype
    return bytes(b)


def first_fragment(lab) -> bytes:
    return echo(lab, BAD_ID, flags="MF")


def later_fragment(lab) -> bytes:
    return echo(lab, BAD_ID, frag=100)


def arp_truncated(lab) -> bytes:
    request = ARP(op=1, hwsrc=lab.peer_mac, psrc=lab.peer_ip, pdst=lab.engine_ip)
    body = bytes(request)[:20]  # 28 bytes make an ARP packet for IPv4 over Ethernet
    return bytes(Ether(src=lab.peer_mac, dst="ff:ff:ff:ff:ff:ff", type=0x0806) / Raw(body))


def arp_request(lab, *, vlan: Optional[int] = None) -> bytes:
    return bytes(ether(lab, dst="ff:ff:ff:ff:ff:ff", vlan=vlan, type=0x0806)
                 / ARP(op=1, hwsrc=lab.peer_mac, psrc=lab.peer_ip, pdst=lab.engine_ip))


# case id: (builder, drop reason expected, lab port).  Fragments go through net_tap: with
# net_af_packet the kernel reassembles them before the engine can see them (conftest.Lab).
# net_tap also grants the rx IPv4 checksum offload, so the tap checksum case covers the engine's
# handling of a device that flags the checksum bad.
MALFORMED: dict[str, tuple[Callable, str, str]] = {
    "bad-ipv4-checksum": (bad_ipv4_checksum, "ipv4_bad_checksum", "af_packet"),
    "bad-icmp-checksum": (bad_icmp_checksum, "icmp_bad_checksum", "af_packet"),
    "ihl-below-5": (ihl_below_five, "ipv4_bad_header_length", "af_packet"),
    "total-length-beyond-frame": (total_length_beyond_frame, "ipv4_bad_total_length",
                                  "af_packet"),
    "total-length-below-header": (total_length_below_header, "ipv4_bad_total_length",
                                  "af_packet"),
    "ipv4-shorter-than-header": (ipv4_truncated, "ipv4_truncated", "af_packet"),
    "ipv4-version-6": (ipv4_bad_version, "ipv4_bad_version", "af_packet"),
    "arp-shorter-than-28": (arp_truncated, "arp_truncated", "af_packet"),
    "first-fragment": (first_fragment, "ipv4_fragment", "tap"),
    "later-fragment": (later_fragment, "ipv4_fragment", "tap"),
    "bad-ipv4-checksum-tap": (bad_ipv4_checksum, "ipv4_bad_checksum", "tap"),
}


# --------------------------------------------------------------------------------------------
# Checks on captures.


def describe(frames) -> str:
    return "\n".join(f.summary() for f in frames) or "(none)"


def assert_only_expected_engine_frames(lab, capture, *, vlan: Optional[int] = None) -> None:
    """The engine sent nothing but the control echo's reply and ARP requests (announcements and
    resolution of the peer); with vlan set, every one of them carries that tag."""
    assert capture.stopped_on_condition, (
        "no reply to the valid control echo sent after the crafted frame(s): the engine stopped "
        "answering (or never did)\ncaptured:\n" + describe(capture.frames))
    engine_frames = capture.from_mac(lab.engine_mac)
    unexpected = [
        f for f in engine_frames
        if not ((ICMP in f and f[ICMP].type == 0 and f[ICMP].id == CONTROL_ID)
                or (ARP in f and f[ARP].op == 1))
    ]
    assert not unexpected, "the engine answered a frame it must drop:\n" + describe(unexpected)
    if vlan is not None:
        untagged = [f for f in engine_frames if Dot1Q not in f or f[Dot1Q].vlan != vlan]
        assert not untagged, f"frames from the engine without VLAN tag {vlan}:\n" + \
            describe(untagged)


def show(counters: dict) -> str:
    return "engine counters: " + ", ".join(f"{k}={v}" for k, v in counters.items()
                                           if not k.startswith("port."))


def drop_count(counters: dict, reason: str) -> int:
    return counters.get(f"drop.{reason}", 0)


# --------------------------------------------------------------------------------------------
# Plain ping and arping.


def test_ping_gets_every_reply(lab):
    result = lab.ping(count=20, interval=0.05, wait=5)
    counters = lab.stop()
    assert (result.transmitted, result.received) == (20, 20), result.output
    assert result.replies_from(lab.engine_ip) == 20, result.output
    assert counters["icmp_echo_requests"] == 20, show(counters)
    assert counters["icmp_echo_replies_sent"] == 20, show(counters)


def test_arping_gets_replies_with_engine_mac(lab):
    # -w: wait (bounded) for 3 replies rather than give up one interval after the 3rd request.
    done = lab.run_in_ns("arping", "-c", "3", "-w", "15", "-I", lab.peer_iface, lab.engine_ip)
    counters = lab.stop()
    replies = re.findall(rf"reply from {re.escape(lab.engine_ip)} \[([0-9A-Fa-f:]+)\]",
                         done.stdout)
    assert len(replies) == 3, done.stdout + done.stderr
    assert {mac.lower() for mac in replies} == {lab.engine_mac}, done.stdout
    assert done.returncode == 0, done.stdout + done.stderr
    assert counters["arp_requests_received"] >= 3, show(counters)
    assert counters["arp_replies_sent"] == counters["arp_requests_received"], show(counters)


# --------------------------------------------------------------------------------------------
# Crafted and malformed frames.


@pytest.mark.parametrize("case", [
    pytest.param(case, marks=pytest.mark.lab(port=port), id=case)
    for case, (_, _, port) in MALFORMED.items()
])
def test_malformed_frame_is_dropped_and_counted(lab, case):
    build, reason, _ = MALFORMED[case]
    capture = lab.exchange([build(lab), control_echo(lab)],
                           stop={"kind": "icmp_reply", "id": CONTROL_ID})
    counters = lab.stop()
    assert_only_expected_engine_frames(lab, capture)
    assert drop_count(counters, reason) == 1, show(counters)
    assert counters["icmp_echo_replies_sent"] == 1, show(counters)  # the control echo only


@pytest.mark.parametrize("port", [pytest.param(p, marks=pytest.mark.lab(port=p), id=p)
                                  for p in ("af_packet", "tap")])
def test_engine_survives_all_malformed_frames_then_answers_ping(lab, port):
    cases = [(build, reason) for build, reason, case_port in MALFORMED.values()
             if port == "tap" or case_port == "af_packet"]
    capture = lab.exchange([build(lab) for build, _ in cases], max_seconds=1.0)
    result = lab.ping(count=3, interval=0.2, wait=5)
    counters = lab.stop()
    answers = [f for f in capture.from_mac(lab.engine_mac)
               if ICMP in f or (ARP in f and f[ARP].op == 2)]
    assert not answers, "the engine answered malformed frames:\n" + describe(answers)
    assert (result.transmitted, result.received) == (3, 3), result.output
    expected: dict[str, int] = {}
    for _, reason in cases:
        expected[reason] = expected.get(reason, 0) + 1
    assert {r: drop_count(counters, r) for r in expected} == expected, show(counters)
    assert counters["icmp_echo_replies_sent"] == 3, show(counters)


# --------------------------------------------------------------------------------------------
# Broadcast echo.


def test_broadcast_ping_is_ignored_and_counted(lab):
    result = lab.ping(lab.broadcast_ip, count=3, interval=0.2, wait=1, extra=("-b",))
    control = lab.ping(count=1, wait=5)
    counters = lab.stop()
    assert result.transmitted == 3, result.output
    assert result.replies_from(lab.engine_ip) == 0, result.output
    assert control.received == 1, control.output
    assert drop_count(counters, "icmp_echo_to_broadcast") == 3, show(counters)
    assert counters["icmp_echo_requests"] == 4, show(counters)
    assert counters["icmp_echo_replies_sent"] == 1, show(counters)


# --------------------------------------------------------------------------------------------
# VLAN: the engine with --vlan 7, the peer's address on a vlan 7 sub-interface.


VLAN = 7


def warn_without_vlan_interface(lab) -> None:
    if lab.vlan_iface is None:
        warnings.warn(f"this kernel cannot make 802.1Q interfaces ({lab.vlan_iface_error}); "
                      f"VLAN tested with crafted tagged frames only, not with ping")


@pytest.mark.lab(vlan=VLAN)
def test_ping_over_vlan(lab):
    # Crafted tagged frames (independent of the kernel's 8021q support): an ARP request, which
    # also teaches the engine the peer's MAC, then echo requests; every answer must carry the tag.
    count = 5
    frames = [arp_request(lab, vlan=VLAN)] + [
        bytes(ether(lab, vlan=VLAN) / IP(src=lab.peer_ip, dst=lab.engine_ip)
              / ICMP(type=8, id=CONTROL_ID, seq=seq) / Raw(PAYLOAD))
        for seq in range(1, count + 1)]
    capture = lab.exchange(frames, stop={"kind": "icmp_reply", "id": CONTROL_ID, "seq": count})
    # And a real ping over the kernel's vlan interface, where there is one. The peer namespace
    # filters reverse paths strictly (conftest), so an untagged reply would be dropped there.
    pinged = lab.ping(count=5, interval=0.05, wait=5) if lab.vlan_iface else None
    counters = lab.stop()

    assert capture.stopped_on_condition, "captured:\n" + describe(capture.frames)
    engine_frames = capture.from_mac(lab.engine_mac)
    untagged = [f for f in engine_frames if Dot1Q not in f or f[Dot1Q].vlan != VLAN]
    assert not untagged, f"frames from the engine without tag {VLAN}:\n" + describe(untagged)
    arp_replies = [f for f in engine_frames if ARP in f and f[ARP].op == 2]
    assert len(arp_replies) == 1, describe(engine_frames)
    assert arp_replies[0][ARP].psrc == lab.engine_ip
    assert arp_replies[0][ARP].hwsrc.lower() == lab.engine_mac
    assert arp_replies[0][ARP].pdst == lab.peer_ip
    echo_replies = [f for f in engine_frames if ICMP in f and f[ICMP].type == 0]
    assert sorted(f[ICMP].seq for f in echo_replies) == list(range(1, count + 1)), \
        describe(engine_frames)
    for f in echo_replies:
        assert (f[IP].src, f[IP].dst, f[ICMP].id) == (lab.engine_ip, lab.peer_ip, CONTROL_ID)
        assert bytes(f[ICMP].payload).startswith(PAYLOAD), f.summary()
    if pinged is not None:
        assert (pinged.transmitted, pinged.received) == (5, 5), pinged.output
    assert counters["icmp_echo_replies_sent"] == count + (5 if pinged else 0), show(counters)
    assert drop_count(counters, "vlan_mismatch") == 0, show(counters)
    warn_without_vlan_interface(lab)


@pytest.mark.lab(vlan=VLAN)
def test_untagged_and_other_vlan_frames_get_nothing(lab):
    frames = [
        echo(lab, BAD_ID),  # untagged echo
        arp_request(lab),  # untagged ARP request for the engine
        echo(lab, BAD_ID, vlan=VLAN + 1),  # echo on another VLAN
        arp_request(lab, vlan=VLAN),  # teaches the engine the peer's MAC on the right VLAN
        control_echo(lab),
    ]
    capture = lab.exchange(frames, stop={"kind": "icmp_reply", "id": CONTROL_ID})
    counters = lab.stop()
    # Only ARP requests/replies and the control reply, all tagged: a reply to the untagged ARP
    # request would be untagged (the engine answers in the request's own buffer).
    engine_frames = capture.from_mac(lab.engine_mac)
    assert capture.stopped_on_condition, "captured:\n" + describe(capture.frames)
    untagged = [f for f in engine_frames if Dot1Q not in f or f[Dot1Q].vlan != VLAN]
    assert not untagged, f"frames from the engine without tag {VLAN}:\n" + describe(untagged)
    bad = [f for f in engine_frames if ICMP in f and f[ICMP].id != CONTROL_ID]
    assert not bad, describe(bad)
    assert drop_count(counters, "vlan_mismatch") == 3, show(counters)
    assert counters["icmp_echo_replies_sent"] == 1, show(counters)
    assert counters["arp_replies_sent"] == 1, show(counters)  # to the tagged request only
    assert counters["arp_requests_received"] == 1, show(counters)


# --------------------------------------------------------------------------------------------
# Gratuitous ARP (RFC 5227 announcements) at start-up.


@pytest.mark.lab(start_engine=False)
def test_engine_announces_itself_with_gratuitous_arp(lab):
    # The sniffer is running in the namespace before the engine starts, so both announcements
    # are seen. (The peer's neighbour table is no witness: Linux ignores gratuitous ARP for
    # unknown neighbours unless arp_accept is set.)
    sniffer = lab.sniffer(stop={"kind": "arp_announce", "ip": lab.engine_ip, "count": 2},
                          max_seconds=20, linger=0)
    lab.start_engine()
    capture = sniffer.result()
    counters = lab.stop()
    announcements = [
        f for f in capture.from_mac(lab.engine_mac)
        if ARP in f and f[ARP].op == 1 and f[ARP].psrc == lab.engine_ip
        and f[ARP].pdst == lab.engine_ip
    ]
    assert len(announcements) == 2, "captured:\n" + describe(capture.frames)
    for f in announcements:
        assert f.dst == "ff:ff:ff:ff:ff:ff", f.summary()
        assert f[ARP].hwsrc.lower() == lab.engine_mac, f.summary()
        assert f[ARP].hwdst == "00:00:00:00:00:00", f.summary()
    # RFC 5227 spaces announcements ANNOUNCE_INTERVAL (2 s) apart; a slow machine only widens it.
    gap = announcements[1].time - announcements[0].time
    assert gap >= 1.0, f"announcements only {gap:.3f} s apart"
    assert counters["arp_gratuitous_sent"] == 2, show(counters)
