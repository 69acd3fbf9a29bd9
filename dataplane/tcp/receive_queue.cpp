#include "dataplane/tcp/receive_queue.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

namespace sluice::tcp {

namespace {

void free_one(rte_mbuf* m) {
    m->next = nullptr;
    rte_pktmbuf_free_seg(m);
}

// Drops `n` bytes from the front of a one-segment buffer.
void trim_front(rte_mbuf* m, std::uint32_t n) {
    m->data_off = static_cast<std::uint16_t>(m->data_off + n);
    m->data_len = static_cast<std::uint16_t>(m->data_len - n);
    m->pkt_len = m->data_len;
    m->hash.usr += n;
}

void trim_back(rte_mbuf* m, std::uint32_t n) {
    m->data_len = static_cast<std::uint16_t>(m->data_len - n);
    m->pkt_len = m->data_len;
}

// The out-of-order segments' search tree: a treap (Seidel and Aragon), a binary search tree by
// sequence number that is also a heap by a priority drawn at random for each node. Its expected
// depth is O(log n) whatever order the keys come in, so that a sender (or an attacker) choosing
// which holes to fill cannot make placement linear, as it is in a sorted list. The priority is a
// hash of the mbuf's address, so it costs no field; an attacker does not choose addresses.
// Linux keeps the same queue in a red-black tree, which needs a parent link and a colour per
// node; a treap needs the two child links alone, and split and merge make insertion and removal
// a few lines each.
HeldNode& node(rte_mbuf* m) {
    return queue_field(m).held;
}
SeqNum start_of(const rte_mbuf* m) {
    return SeqNum(m->hash.usr);
}

std::uint64_t priority(const rte_mbuf* m) {
    // The finaliser of MurmurHash3: every address bit moves every priority bit.
    auto x = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(m));
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

// Cuts `tree` into the nodes that start before `key` and the rest. Iterative: one walk down.
void split(rte_mbuf* tree, SeqNum key, rte_mbuf*& before, rte_mbuf*& rest) {
    rte_mbuf** before_hook = &before;
    rte_mbuf** rest_hook = &rest;
    while (tree != nullptr) {
        if (start_of(tree) < key) {
            *before_hook = tree;
            before_hook = &node(tree).right;
            tree = node(tree).right;
        } else {
            *rest_hook = tree;
            rest_hook = &node(tree).left;
            tree = node(tree).left;
        }
    }
    *before_hook = nullptr;
    *rest_hook = nullptr;
}

// Joins two trees, every node of `low` starting before every node of `high`.
rte_mbuf* merge(rte_mbuf* low, rte_mbuf* high) {
    rte_mbuf* root = nullptr;
    rte_mbuf** hook = &root;
    while (low != nullptr && high != nullptr) {
        if (priority(low) > priority(high)) {
            *hook = low;
            hook = &node(low).right;
            low = node(low).right;
        } else {
            *hook = high;
            hook = &node(high).left;
            high = node(high).left;
        }
    }
    *hook = low != nullptr ? low : high;
    return root;
}

rte_mbuf* tree_insert(rte_mbuf* tree, rte_mbuf* m) {
    node(m).left = node(m).right = nullptr;
    rte_mbuf* before = nullptr;
    rte_mbuf* rest = nullptr;
    split(tree, start_of(m), before, rest);
    return merge(merge(before, m), rest);
}

// Takes `m`, which is in `tree`, out of it.
rte_mbuf* tree_erase(rte_mbuf* tree, rte_mbuf* m) {
    rte_mbuf* before = nullptr;
    rte_mbuf* rest = nullptr;
    split(tree, start_of(m), before, rest);
    // Sequence numbers held are distinct: `m` is the first of the rest, at the end of its left
    // spine, and has no left child.
    rte_mbuf** hook = &rest;
    while (*hook != m)
        hook = &node(*hook).left;
    *hook = node(m).right;
    return merge(before, rest);
}

rte_mbuf* first_of(rte_mbuf* tree) {
    if (tree != nullptr) {
        while (node(tree).left != nullptr)
            tree = node(tree).left;
    }
    return tree;
}

rte_mbuf* last_of(rte_mbuf* tree) {
    if (tree != nullptr) {
        while (node(tree).right != nullptr)
            tree = node(tree).right;
    }
    return tree;
}

// The held segment that starts last at or before `seq`, if any.
rte_mbuf* floor_of(rte_mbuf* tree, SeqNum seq) {
    rte_mbuf* best = nullptr;
    while (tree != nullptr) {
        if (start_of(tree) <= seq) {
            best = tree;
            tree = node(tree).right;
        } else {
            tree = node(tree).left;
        }
    }
    return best;
}

std::uint32_t depth_of(rte_mbuf* tree) {
    if (tree == nullptr)
        return 0;
    return 1 + std::max(depth_of(node(tree).left), depth_of(node(tree).right));
}

}  // namespace

constinit thread_local std::int64_t ReceiveQueue::held_on_this_thread_ = 0;

void ReceiveQueue::append_in_order(rte_mbuf* m) {
    m->next = nullptr;
    m->nb_segs = 1;
    if (tail_ == nullptr) {
        head_ = tail_ = m;
    } else {
        tail_->next = m;
        tail_ = m;
    }
    in_order_bytes_ += m->data_len;
}

ReceiveQueue::Outcome ReceiveQueue::insert(rte_mbuf* segment, SeqNum seq, SeqNum rcv_nxt,
                                           std::uint32_t max_ooo, bool fin) {
    segment->hash.usr = seq.raw();
    set_fin_follows(segment, fin);
    segment->next = nullptr;
    segment->nb_segs = 1;
    segment->pkt_len = segment->data_len;
    Outcome out{rcv_nxt};
    // Anything before RCV.NXT was delivered already.
    if (seq < rcv_nxt) {
        const auto old = static_cast<std::uint32_t>(rcv_nxt - seq);
        if (old >= segment->data_len) {
            free_one(segment);
            out.dropped = out.duplicate = true;
            return out;
        }
        trim_front(segment, old);
        seq = rcv_nxt;
    }
    if (segment->data_len == 0 && !(fin && seq > rcv_nxt)) {
        free_one(segment);  // an in-order FIN alone is the caller's to process
        return out;
    }
    if (seq == rcv_nxt) {
        append_in_order(segment);
        out.rcv_nxt = drain_held(rcv_nxt + segment->data_len, out.fin_reached);
        return out;
    }

    // Out of order: place it among what is held, cut to the gaps between. The bound is checked
    // first, so a refused segment never costs data already held.
    const std::uint32_t count = held_count();
    if (count >= max_ooo) {
        free_one(segment);
        out.dropped = true;
        return out;
    }
    // Beyond everything held, the usual case while a sender fills the window past a hole.
    if (rte_mbuf* last = last_of(ooo_root_);
        last != nullptr && seq_of(last) + last->data_len <= seq) {
        if (fin_follows(last)) {  // nothing comes after a FIN
            free_one(segment);
            out.dropped = true;
            return out;
        }
        last->next = segment;
        ooo_root_ = tree_insert(ooo_root_, segment);
        ooo_bytes_ += segment->data_len;
        store_held_count(count, count + 1);
        out.held = true;
        return out;
    }
    // Elsewhere: `prev`, the held segment that starts last at or before it, is the one it goes
    // after (none: it goes first), unless the two overlap.
    rte_mbuf* prev = floor_of(ooo_root_, seq);
    if (prev != nullptr && seq_of(prev) + prev->data_len > seq) {
        // Overlaps the end of a held one: the first bytes received are kept (and nothing after
        // a held FIN exists to keep).
        const SeqNum held_end = seq_of(prev) + prev->data_len;
        const auto covered = static_cast<std::uint32_t>(held_end - seq);
        if (covered >= segment->data_len || fin_follows(prev)) {
            const bool whole = covered >= segment->data_len;
            if (fin && whole && held_end == seq + segment->data_len)
                set_fin_follows(prev, true);
            free_one(segment);
            out.dropped = true;
            out.duplicate = whole && segment->data_len > 0;
            return out;
        }
        trim_front(segment, covered);
        seq = held_end;
    }
    // Drop held segments the new one covers entirely; cut its tail at the next held one. A held
    // FIN inside the new segment's range ends it there.
    std::uint32_t held = count;
    rte_mbuf* next = prev != nullptr ? prev->next : first_of(ooo_root_);
    SeqNum end = seq + segment->data_len;
    while (next != nullptr && seq_of(next) + next->data_len <= end) {
        rte_mbuf* covered = next;
        const bool covered_fin = fin_follows(covered);
        const SeqNum covered_end = seq_of(covered) + covered->data_len;
        next = covered->next;
        ooo_root_ = tree_erase(ooo_root_, covered);
        ooo_bytes_ -= covered->data_len;
        held -= 1;
        free_one(covered);
        if (covered_fin) {
            trim_back(segment, static_cast<std::uint32_t>(end - covered_end));
            set_fin_follows(segment, true);
            end = covered_end;
            break;
        }
    }
    if (next != nullptr && seq_of(next) < end) {
        trim_back(segment, static_cast<std::uint32_t>(end - seq_of(next)));
        set_fin_follows(segment, false);  // data the peer sent again lies beyond: no FIN here
        if (segment->data_len == 0) {
            // It spanned the seam between two held segments and brought nothing new (nothing
            // was removed above, or some of it would be left): a duplicate, not a node that
            // would share its sequence number with the next one.
            free_one(segment);
            out.dropped = out.duplicate = true;
            return out;
        }
    }
    segment->next = next;
    if (prev != nullptr)
        prev->next = segment;
    ooo_root_ = tree_insert(ooo_root_, segment);
    ooo_bytes_ += segment->data_len;
    store_held_count(count, held + 1);
    out.held = true;
    return out;
}

std::uint32_t ReceiveQueue::held_count() const {
    return ooo_root_ != nullptr ? node(ooo_root_).count : 0;
}

void ReceiveQueue::store_held_count(std::uint32_t before, std::uint32_t after) {
    if (ooo_root_ != nullptr)
        node(ooo_root_).count = after;
    held_on_this_thread_ += std::int64_t{after} - std::int64_t{before};
}

SeqNum ReceiveQueue::drain_held(SeqNum rcv_nxt, bool& fin_reached) {
    if (ooo_root_ == nullptr)
        return rcv_nxt;
    const std::uint32_t count = held_count();
    std::uint32_t held = count;
    for (rte_mbuf* m = first_of(ooo_root_); m != nullptr && seq_of(m) <= rcv_nxt;) {
        // The first held segment: the end of the tree's left spine, with no left child.
        rte_mbuf** hook = &ooo_root_;
        while (*hook != m)
            hook = &node(*hook).left;
        *hook = node(m).right;
        held -= 1;
        ooo_bytes_ -= m->data_len;
        rte_mbuf* const following = m->next;
        const SeqNum end = seq_of(m) + m->data_len;
        const bool fin = fin_follows(m);
        if (end <= rcv_nxt) {
            free_one(m);
            if (fin && end == rcv_nxt) {
                fin_reached = true;
                break;
            }
            m = following;
            continue;
        }
        trim_front(m, static_cast<std::uint32_t>(rcv_nxt - seq_of(m)));
        append_in_order(m);
        rcv_nxt = end;
        if (fin) {
            fin_reached = true;
            break;
        }
        m = following;
    }
    if (fin_reached) {
        // Nothing follows a FIN: whatever else was held was never sent as such.
        free_held();
        held = 0;
    }
    store_held_count(count, held);
    return rcv_nxt;
}

void ReceiveQueue::free_held() {
    for (rte_mbuf* m = first_of(ooo_root_); m != nullptr;) {
        rte_mbuf* next = m->next;
        ooo_bytes_ -= m->data_len;
        free_one(m);
        m = next;
    }
    ooo_root_ = nullptr;
}

std::size_t ReceiveQueue::sack_blocks(std::span<SackRange> out, SeqNum recent) const {
    if (out.empty())
        return 0;
    // One walk, keeping the run holding `recent` and the highest runs in a ring of out.size().
    constexpr std::size_t kMax = 4;
    std::array<SackRange, kMax> highest{};
    const std::size_t room = std::min(out.size(), kMax);
    std::size_t seen = 0;  // runs found
    std::optional<SackRange> recent_run;
    std::optional<SackRange> run;
    const auto close_run = [&] {
        if (!run)
            return;
        if (run->left <= recent && recent < run->right)
            recent_run = run;
        else
            highest[seen++ % room] = *run;
        run.reset();
    };
    for (const rte_mbuf* m = first_of(ooo_root_); m != nullptr; m = m->next) {
        if (m->data_len == 0)
            continue;  // a FIN alone is not data to SACK
        const SeqNum start = seq_of(m);
        const SeqNum end = start + m->data_len;
        if (run && run->right == start) {
            run->right = end;
        } else {
            close_run();
            run = SackRange{start, end};
        }
    }
    close_run();
    // RFC 2018 4: the block holding the most recently received segment first, then the blocks
    // reported before it. Those are not remembered (no TCB room); the highest come next, from
    // the top down, which is the order a sender's segments arrive in and so nearly always the
    // order they were reported in.
    std::size_t n = 0;
    if (recent_run)
        out[n++] = *recent_run;
    const std::size_t kept = std::min(seen, room);
    for (std::size_t i = 0; i < kept && n < out.size(); ++i)
        out[n++] = highest[(seen - 1 - i) % room];
    return n;
}

std::uint32_t ReceiveQueue::out_of_order_segments() const {
    return held_count();
}

rte_mbuf* ReceiveQueue::pop() {
    rte_mbuf* m = head_;
    if (m == nullptr)
        return nullptr;
    head_ = m->next;
    if (head_ == nullptr)
        tail_ = nullptr;
    m->next = nullptr;
    m->nb_segs = 1;
    m->pkt_len = m->data_len;
    in_order_bytes_ -= m->data_len;
    return m;
}

std::uint32_t ReceiveQueue::read(std::span<std::byte> out) {
    std::uint32_t copied = 0;
    while (head_ != nullptr && copied < out.size()) {
        const auto n =
            static_cast<std::uint32_t>(std::min<std::size_t>(head_->data_len, out.size() - copied));
        std::memcpy(out.data() + copied, rte_pktmbuf_mtod(head_, const std::byte*), n);
        copied += n;
        in_order_bytes_ -= n;
        if (n == head_->data_len) {
            rte_mbuf* next = head_->next;
            free_one(head_);
            head_ = next;
            if (head_ == nullptr)
                tail_ = nullptr;
        } else {
            head_->data_off = static_cast<std::uint16_t>(head_->data_off + n);
            head_->data_len = static_cast<std::uint16_t>(head_->data_len - n);
            head_->pkt_len = head_->data_len;
        }
    }
    return copied;
}

std::uint32_t ReceiveQueue::peek(std::span<std::byte> out) const {
    std::uint32_t copied = 0;
    for (const rte_mbuf* m = head_; m != nullptr && copied < out.size(); m = m->next) {
        const auto n =
            static_cast<std::uint32_t>(std::min<std::size_t>(m->data_len, out.size() - copied));
        std::memcpy(out.data() + copied, rte_pktmbuf_mtod(m, const std::byte*), n);
        copied += n;
    }
    return copied;
}

bool ReceiveQueue::first_held(SeqNum& start, SeqNum& end) const {
    const rte_mbuf* first = first_of(ooo_root_);
    if (first == nullptr)
        return false;
    start = seq_of(first);
    end = start + first->data_len;
    return true;
}

std::uint32_t ReceiveQueue::out_of_order_depth() const {
    return depth_of(ooo_root_);  // recursive, as deep as the tree: for tests only
}

void ReceiveQueue::clear() {
    while (head_ != nullptr) {
        rte_mbuf* next = head_->next;
        free_one(head_);
        head_ = next;
    }
    tail_ = nullptr;
    in_order_bytes_ = 0;
    const std::uint32_t count = held_count();
    free_held();
    store_held_count(count, 0);
    ooo_bytes_ = 0;
}

}  // namespace sluice::tcp
