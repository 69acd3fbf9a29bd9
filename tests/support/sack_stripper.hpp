// A middlebox that turns SACK off: it rewrites the SACK-permitted option (RFC 2018 2) of every SYN
// it sees to two NOPs and fixes the TCP checksum (RFC 1624), as some firewalls and load balancers
// do. Neither end then offers SACK to the other, whatever its own settings, so tests can run the
// same engines with and without SACK by putting this on the wire between them.
#pragma once

#include <rte_mbuf.h>

namespace sluice::test {

// Returns whether `frame` (Ethernet, untagged, IPv4, TCP, contiguous) was a SYN carrying
// SACK-permitted, now removed. Any other frame is left as it is.
bool strip_sack_permitted(rte_mbuf* frame);

}  // namespace sluice::test
