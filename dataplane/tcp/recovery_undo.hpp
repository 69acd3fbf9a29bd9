// Undoing a fast recovery or a retransmission timeout whose retransmissions all turned out
// needless (RFC 3708; Linux's "undo"): the window cut is taken back once the peer has D-SACKed
// every segment the recovery resent, for then nothing was lost, the path only reordered or
// stalled. A timeout can also be shown spurious by the timestamp the peer echoes (RFC 3522, the
// Eifel detection algorithm): an ACK that echoes a value older than our first retransmission
// answers the original transmission, which therefore was not lost.
//
// Undo needs the window before the cut and a count of what was resent: more than the 248-byte TCB
// has room for, and wanted only for a round trip or two after a recovery. So the worker keeps it,
// for the connections that entered recovery lately, in a table of fixed size indexed by the TCB's
// address; a recovery that claims a slot another connection held only costs that one its undo.
// Not thread-safe: one per worker.
#pragma once

#include <array>
#include <cstdint>

#include "dataplane/tcp/seq.hpp"
#include "dataplane/tcp/side_table.hpp"

namespace sluice::tcp {

struct Tcb;

class RecoveryUndo {
  public:
    struct Entry {
        const Tcb* tcb = nullptr;
        std::uint32_t generation = 0;
        std::uint32_t prior_cwnd = 0;
        std::uint32_t prior_ssthresh = 0;
        // The span of sequence space resent since (valid while `resent` is): a D-SACK outside
        // it reports a duplicate the network made, or one from before, not one of ours.
        SeqNum resent_begin, resent_end;
        // Segments resent and not yet D-SACKed.
        std::uint32_t unconfirmed = 0;
        bool resent = false;
        // Every resent segment came back D-SACKed while recovery still ran: undo when it ends.
        bool undo_at_end = false;
        // The entry is a retransmission timeout's, not a fast recovery's.
        bool timeout = false;
        // A timeout's: the TSval our first retransmission carried (RFC 3522 2,
        // RetransmitTS), when the connection has timestamps.
        std::uint32_t retransmit_ts = 0;
    };

    static constexpr std::size_t kSlots = 1024;

    // A fresh entry for `t` (which began recovery), replacing whatever held its slot.
    Entry& start(const Tcb* t, std::uint32_t generation) {
        Entry& e = slot(t);
        e = Entry{};
        e.tcb = t;
        e.generation = generation;
        return e;
    }
    // `t`'s entry, if the table still has it.
    Entry* find(const Tcb* t, std::uint32_t generation) {
        Entry& e = slot(t);
        return e.tcb == t && e.generation == generation ? &e : nullptr;
    }
    void forget(const Tcb* t, std::uint32_t generation) {
        if (Entry* e = find(t, generation))
            *e = Entry{};
    }

  private:
    Entry& slot(const Tcb* t) { return slots_[side_table_index(t, kSlots)]; }
    std::array<Entry, kSlots> slots_{};
};

}  // namespace sluice::tcp
