//! `reconcile`: bank entries matched to ledger entries, and what is left
//! on each side.
//!
//! # The matching, and why it is the contract's
//!
//! The contract ranks the matchings (pairs of a bank and a ledger entry of
//! the same amount dated at most 3 days apart, each entry in at most one
//! pair) by four keys in turn: more pairs; more pairs with equal
//! references; fewer days apart in total; the smaller list of (bank id,
//! ledger id) pairs sorted ascending. The best is found in three steps, in
//! integers only.
//!
//! 1. **Clusters.** Only equal amounts match, and no pair spans a gap of
//!    more than 3 days between consecutive dates (of either side), so the
//!    entries split into clusters (one amount, no such gap) matched on
//!    their own: the first three keys are sums over the clusters, and the
//!    greedy of step 3 decides a bank entry within its cluster alone. A
//!    cluster with one entry on a side (the usual case: few entries per
//!    amount) has at most one pair, the best by the keys in turn.
//! 2. **The best value, a min-cost flow.** Entries of one side of a
//!    cluster with the same date and reference key are interchangeable for
//!    the first three keys: they form a class, a node shipping (or taking)
//!    their count. With k the smaller side's count, a pair costs its days
//!    apart, plus R = 3k + 1 if the references are not equal, and an entry
//!    left unmatched costs P = (R + 3)k + 1. A matching of m pairs, r of
//!    them by reference, d days apart in total, costs
//!    d + R(m − r) + P(bank + ledger − 2m). As d + R(m − r) is between 0
//!    and (R + 3)k < 2P, one more pair always pays; then, as d is between
//!    0 and 3k < R, one more reference; then fewer days: the least cost is
//!    the best by the first three keys. In the network, bank classes ship
//!    to ledger classes of the same reference key directly (cost: days),
//!    to any ledger class through day hubs (bank class → its date → a
//!    ledger date at most 3 days away, cost R + days → ledger class: arcs
//!    grow with the dates, not with the classes' product), or to
//!    "unmatched bank" (cost P); a spare node ships each ledger class's
//!    unmatched (cost P) and the rest to "unmatched bank" (cost 0). So a
//!    flow shipping every count is a matching, and a matching such a flow
//!    of its cost. The primal-dual method (Dijkstra on reduced costs, then
//!    as many units as the shortest paths carry, again) finds the
//!    least-cost flow, and potentials π with every residual arc's reduced
//!    cost c(u,v) + π(u) − π(v) ≥ 0. Any complete flow costs a constant
//!    (the counts times their nodes' π) plus the reduced costs of the arcs
//!    it uses, all ≥ 0, so the optimal matchings are exactly the complete
//!    flows over *tight* arcs (reduced cost 0). A hub route between equal
//!    reference keys is never tight (it costs R more than the direct arc),
//!    so a tight route always costs what its pair is worth.
//! 3. **The smallest list, greedily.** Every optimal matching has the
//!    same number of pairs, and their sorted lists compare bank id first.
//!    So bank entries are taken in ascending id, each given the smallest
//!    ledger id for which an optimal matching with all the choices so far
//!    still exists, or, with none, left unmatched (a list whose next pair
//!    has a smaller bank id sorts first, and among those the one with the
//!    smaller ledger id). Each choice is the smallest list's next pair, so
//!    the result is the smallest list. Whether a choice keeps an optimal
//!    matching is a question on the tight arcs. From a complete tight flow
//!    for what is still open, take one unit off the bank's class: it ended
//!    at some node y. A ledger class j (or "unmatched bank") can take the
//!    bank iff a tight route joins them and the flow can hand one unit of
//!    j's over to y along a path of tight arcs (forward, or backward along
//!    flow): the rest must be a complete tight flow for the counts less
//!    the bank and j's entry, and the difference between two such flows,
//!    one for y's entry instead of j's, is such a path plus cycles. One
//!    search backwards from y answers for every j at once (none needed
//!    when y is already the best j). Ledger entries of a class are
//!    interchangeable, so a class that can take the bank gives its
//!    smallest free id; the path, applied, keeps the flow complete and
//!    tight for the next bank entry.
//!
//! Cost: per cluster, one Dijkstra per distinct shortest-path length
//! (Dinic's blocking flows ship every unit of that length), then per bank
//! entry a walk of its class's routes and at most one breadth-first search
//! of the tight arcs. Measured (`cargo bench`, release, 2 cores): 1,000
//! bank and 1,000 ledger entries of one amount over a week (7 classes a
//! side) take about 2 ms; the same with a distinct reference on each entry
//! (1,000 classes a side) about 8 ms.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::{folded, signed_total_too_large};
use crate::fields::{self, Date, SignedCents, Text};
use crate::{BusinessAction, Failure, InvalidInput, Problem};

/// How many days apart a bank entry and a ledger entry may be dated to
/// match, inclusive.
const MATCH_WINDOW_DAYS: i64 = 3;

/// `reconcile`: bank entries matched one-to-one with ledger entries of the
/// same amount dated at most 3 days apart, and what is left on each side.
///
/// The matching has the most pairs; among those, the most pairs whose
/// references are equal (trimmed, case-insensitive, both present and not
/// blank); then the fewest days apart in total; then the smallest list of
/// (bank id, ledger id) pairs sorted ascending by bank id then ledger id
/// (ids compared by code point), which is the order of `matched`. The
/// unmatched of each side are listed by (date, id). Either side may be
/// empty; a side's total past ±10^15 cents is refused at submission. See
/// the module docs for how the matching is found.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reconcile {
    bank: Vec<BookEntry>,
    ledger: Vec<BookEntry>,
}

/// An entry of a bank statement or of the ledger.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BookEntry {
    id: Text,
    date: Date,
    amount_cents: SignedCents,
    #[serde(default)]
    reference: Option<String>,
}

impl BookEntry {
    /// The reference to compare, if there is one that is not blank.
    fn reference_key(&self) -> Option<String> {
        self.reference
            .as_deref()
            .map(folded)
            .filter(|r| !r.is_empty())
    }
}

/// A bank entry matched to a ledger entry.
#[derive(Debug, Serialize)]
struct Match<'a> {
    bank_id: &'a Text,
    ledger_id: &'a Text,
    amount_cents: i64,
    days_apart: i64,
    by_reference: bool,
}

/// `reconcile`'s result.
#[derive(Debug, Serialize)]
struct Reconciliation<'a> {
    matched: Vec<Match<'a>>,
    unmatched_bank: Vec<&'a Text>,
    unmatched_ledger: Vec<&'a Text>,
    bank_total_cents: i64,
    ledger_total_cents: i64,
    net_difference_cents: i64,
}

impl BusinessAction for Reconcile {
    /// Refuses an id repeated on one side.
    fn check(&self) -> Result<(), InvalidInput> {
        fields::unique_by(&self.bank, "bank", "id", |e| &e.id)?;
        fields::unique_by(&self.ledger, "ledger", "id", |e| &e.id)
    }

    /// The reconciliation; a side's total past ±10^15 cents is refused,
    /// naming the side.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let total = |entries: &[BookEntry], side: &str| {
            fields::signed_sum(entries.iter().map(|e| e.amount_cents.get()))
                .ok_or_else(|| signed_total_too_large(side, &format!("the {side}'s total")))
        };
        let bank_total_cents = total(&self.bank, "bank")?;
        let ledger_total_cents = total(&self.ledger, "ledger")?;

        let mut bank_matched = vec![false; self.bank.len()];
        let mut ledger_matched = vec![false; self.ledger.len()];
        let mut matched = Vec::new();
        for (bank, ledger) in clusters(&self.bank, &self.ledger) {
            let pairs = best_matching(bank, ledger).ok_or_else(|| {
                Failure("reconcile: the matching broke its own invariants (a bug)".to_string())
            })?;
            for (b, l) in pairs {
                let (Some(be), Some(le), Some(bm), Some(lm)) = (
                    self.bank.get(b),
                    self.ledger.get(l),
                    bank_matched.get_mut(b),
                    ledger_matched.get_mut(l),
                ) else {
                    continue;
                };
                (*bm, *lm) = (true, true);
                let by_reference = be
                    .reference_key()
                    .is_some_and(|r| Some(r) == le.reference_key());
                matched.push(Match {
                    bank_id: &be.id,
                    ledger_id: &le.id,
                    amount_cents: be.amount_cents.get(),
                    days_apart: be.date.days_until(le.date).abs(),
                    by_reference,
                });
            }
        }
        // Bank ids are unique: this is the order by (bank id, ledger id).
        matched.sort_by(|x, y| (x.bank_id, x.ledger_id).cmp(&(y.bank_id, y.ledger_id)));
        Ok(Reconciliation {
            matched,
            unmatched_bank: unmatched(&self.bank, &bank_matched),
            unmatched_ledger: unmatched(&self.ledger, &ledger_matched),
            bank_total_cents,
            ledger_total_cents,
            // Both within ±10^15, so the difference is within ±2·10^15: an i64.
            net_difference_cents: bank_total_cents - ledger_total_cents,
        })
    }
}

/// The ids of the `entries` not `matched`, in (date, id) order.
fn unmatched<'a>(entries: &'a [BookEntry], matched: &[bool]) -> Vec<&'a Text> {
    let mut left: Vec<&BookEntry> = entries
        .iter()
        .zip(matched)
        .filter(|&(_, &m)| !m)
        .map(|(e, _)| e)
        .collect();
    left.sort_by_key(|e| (e.date, &e.id));
    left.into_iter().map(|e| &e.id).collect()
}

/// An entry as the matching sees it.
#[derive(Debug, Clone)]
struct Item<'a> {
    /// Its index on its side.
    index: usize,
    id: &'a Text,
    /// Its date as a day number.
    day: i64,
    /// Its reference key ([`BookEntry::reference_key`]).
    key: Option<String>,
}

/// The entries that can only match each other: each cluster is one amount
/// with no gap of more than [`MATCH_WINDOW_DAYS`] between consecutive
/// dates (of either side), as its bank and its ledger items. No pair can
/// span two clusters.
fn clusters<'a>(
    bank: &'a [BookEntry],
    ledger: &'a [BookEntry],
) -> Vec<(Vec<Item<'a>>, Vec<Item<'a>>)> {
    // (amount, on the ledger side, item), sorted: clusters are runs.
    let mut all: Vec<(i64, bool, Item<'a>)> = Vec::with_capacity(bank.len() + ledger.len());
    for (on_ledger, entries) in [(false, bank), (true, ledger)] {
        all.extend(entries.iter().enumerate().map(|(index, e)| {
            let item = Item {
                index,
                id: &e.id,
                day: i64::from(e.date.get().to_julian_day()),
                key: e.reference_key(),
            };
            (e.amount_cents.get(), on_ledger, item)
        }));
    }
    all.sort_by_key(|(amount, _, item)| (*amount, item.day));
    let mut clusters: Vec<(Vec<Item<'a>>, Vec<Item<'a>>)> = Vec::new();
    let mut last: Option<(i64, i64)> = None;
    for (amount, on_ledger, item) in all {
        let day = item.day;
        if !last.is_some_and(|(a, d)| a == amount && day - d <= MATCH_WINDOW_DAYS) {
            clusters.push((Vec::new(), Vec::new()));
        }
        if let Some((bank, ledger)) = clusters.last_mut() {
            if on_ledger {
                ledger.push(item)
            } else {
                bank.push(item)
            }
        }
        last = Some((amount, day));
    }
    clusters
}

/// Entries of one side of a cluster with the same day and reference key.
#[derive(Debug)]
struct Class<'i, 'a> {
    day: i64,
    key: Option<&'i str>,
    members: Vec<&'i Item<'a>>,
}

/// `items` grouped into classes, and each item's class.
fn classes<'i, 'a>(items: &'i [Item<'a>]) -> (Vec<Class<'i, 'a>>, Vec<usize>) {
    let mut index: BTreeMap<(i64, Option<&str>), usize> = BTreeMap::new();
    let mut classes: Vec<Class> = Vec::new();
    let mut class_of = Vec::with_capacity(items.len());
    for item in items {
        let key = (item.day, item.key.as_deref());
        let c = *index.entry(key).or_insert_with(|| {
            classes.push(Class {
                day: item.day,
                key: item.key.as_deref(),
                members: Vec::new(),
            });
            classes.len() - 1
        });
        if let Some(class) = classes.get_mut(c) {
            class.members.push(item);
        }
        class_of.push(c);
    }
    (classes, class_of)
}

/// The contract's best matching of one cluster, as (bank index, ledger
/// index) pairs (module docs, steps 2 and 3); `None` only if the flow broke
/// its invariants, a bug.
fn best_matching<'a>(
    mut bank: Vec<Item<'a>>,
    mut ledger: Vec<Item<'a>>,
) -> Option<Vec<(usize, usize)>> {
    if bank.len() <= 1 || ledger.len() <= 1 {
        return Some(best_single_pair(&bank, &ledger).into_iter().collect());
    }
    // A reference key the other side lacks is equal to nothing: none, so
    // that it does not split a class.
    let keys = |items: &[Item]| -> BTreeSet<String> {
        items.iter().filter_map(|i| i.key.clone()).collect()
    };
    let (bank_keys, ledger_keys) = (keys(&bank), keys(&ledger));
    for (items, other) in [(&mut bank, &ledger_keys), (&mut ledger, &bank_keys)] {
        for item in items.iter_mut() {
            if item.key.as_ref().is_some_and(|k| !other.contains(k)) {
                item.key = None;
            }
        }
    }
    let (bank_classes, bank_class_of) = classes(&bank);
    let (ledger_classes, _) = classes(&ledger);
    let layout = Layout::new(&bank_classes, &ledger_classes);
    let mut net = network(&layout, &bank_classes, &ledger_classes)?;
    let units = i64::try_from(bank.len() + ledger.len()).ok()?;
    let potential = net.min_cost_flow(SOURCE, SINK, units)?;
    let tight = net.tight_part(&potential)?;
    smallest_list(tight, &layout, &bank, &bank_class_of, &ledger_classes)
}

/// A cluster's network: [`SOURCE`], [`SINK`], [`SPARE_LEDGER`],
/// [`UNMATCHED_BANK`], then the bank classes, the ledger classes, the bank
/// dates and the ledger dates (the day hubs).
#[derive(Debug)]
struct Layout {
    ledger_classes: Range<usize>,
    /// The bank classes' dates, ascending, one hub each.
    bank_days: Vec<i64>,
    /// The ledger classes' dates, ascending, one hub each.
    ledger_days: Vec<i64>,
}

const SOURCE: usize = 0;
const SINK: usize = 1;
/// Ships each ledger class's unmatched entries, and the rest to
/// [`UNMATCHED_BANK`].
const SPARE_LEDGER: usize = 2;
/// Takes the unmatched bank entries, and the rest of [`SPARE_LEDGER`].
const UNMATCHED_BANK: usize = 3;
const FIRST_CLASS: usize = 4;

impl Layout {
    fn new(bank: &[Class], ledger: &[Class]) -> Self {
        let days = |classes: &[Class]| -> Vec<i64> {
            let days: BTreeSet<i64> = classes.iter().map(|c| c.day).collect();
            days.into_iter().collect()
        };
        let first_ledger_class = FIRST_CLASS + bank.len();
        Self {
            ledger_classes: first_ledger_class..first_ledger_class + ledger.len(),
            bank_days: days(bank),
            ledger_days: days(ledger),
        }
    }

    fn nodes(&self) -> usize {
        self.ledger_classes.end + self.bank_days.len() + self.ledger_days.len()
    }

    /// The ledger class at `node`, if there is one.
    fn ledger_class_at(&self, node: usize) -> Option<usize> {
        node.checked_sub(self.ledger_classes.start)
            .filter(|_| self.ledger_classes.contains(&node))
    }

    /// The hub of the bank date `day`.
    fn bank_day(&self, day: i64) -> Option<usize> {
        let d = self.bank_days.binary_search(&day).ok()?;
        Some(self.ledger_classes.end + d)
    }

    /// The hub of the ledger date `day`.
    fn ledger_day(&self, day: i64) -> Option<usize> {
        let d = self.ledger_days.binary_search(&day).ok()?;
        Some(self.ledger_classes.end + self.bank_days.len() + d)
    }
}

/// The network of a cluster's classes (module docs, step 2), without flow.
fn network(layout: &Layout, bank: &[Class], ledger: &[Class]) -> Option<Network> {
    let count = |classes: &[Class]| -> Option<i64> {
        let members: usize = classes.iter().map(|c| c.members.len()).sum();
        i64::try_from(members).ok()
    };
    let (bank_count, ledger_count) = (count(bank)?, count(ledger)?);
    let pairs_at_most = i128::from(bank_count.min(ledger_count));
    let unequal_references = 3 * pairs_at_most + 1;
    let unmatched = (unequal_references + 3) * pairs_at_most + 1;
    // More than any arc carries: the inner arcs are uncapacitated.
    let unbounded = bank_count + ledger_count;

    let mut net = Network::new(layout.nodes());
    net.add(SOURCE, SPARE_LEDGER, ledger_count, 0);
    net.add(SPARE_LEDGER, UNMATCHED_BANK, unbounded, 0);
    net.add(UNMATCHED_BANK, SINK, bank_count, 0);
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (c, class) in ledger.iter().enumerate() {
        let node = layout.ledger_classes.start + c;
        net.add(SPARE_LEDGER, node, unbounded, unmatched);
        net.add(layout.ledger_day(class.day)?, node, unbounded, 0);
        net.add(node, SINK, count(std::slice::from_ref(class))?, 0);
        if let Some(key) = class.key {
            by_key.entry(key).or_default().push(c);
        }
    }
    for (c, class) in bank.iter().enumerate() {
        let node = FIRST_CLASS + c;
        net.add(SOURCE, node, count(std::slice::from_ref(class))?, 0);
        net.add(node, UNMATCHED_BANK, unbounded, unmatched);
        net.add(node, layout.bank_day(class.day)?, unbounded, 0);
        let same_key = class.key.and_then(|k| by_key.get(k)).into_iter().flatten();
        for &l in same_key {
            let apart = (ledger.get(l)?.day - class.day).abs();
            if apart <= MATCH_WINDOW_DAYS {
                let to = layout.ledger_classes.start + l;
                net.add(node, to, unbounded, i128::from(apart));
            }
        }
    }
    for &day in &layout.bank_days {
        let days = &layout.ledger_days;
        let first = days.partition_point(|&d| d < day - MATCH_WINDOW_DAYS);
        let near = days.iter().skip(first);
        for &other in near.take_while(|&&d| d <= day + MATCH_WINDOW_DAYS) {
            let cost = unequal_references + i128::from((other - day).abs());
            net.add(
                layout.bank_day(day)?,
                layout.ledger_day(other)?,
                unbounded,
                cost,
            );
        }
    }
    Some(net)
}

/// The smallest list of pairs (module docs, step 3), from `tight`: the
/// tight arcs of the least-cost flow, with that flow.
fn smallest_list(
    mut tight: Network,
    layout: &Layout,
    bank: &[Item],
    bank_class_of: &[usize],
    ledger_classes: &[Class],
) -> Option<Vec<(usize, usize)>> {
    // Each ledger class's free items, the smallest id last.
    let mut free: Vec<Vec<&Item>> = ledger_classes
        .iter()
        .map(|c| {
            let mut members = c.members.clone();
            members.sort_by(|a, b| b.id.cmp(a.id));
            members
        })
        .collect();
    let mut pairs = Vec::new();
    let mut by_id: Vec<usize> = (0..bank.len()).collect();
    by_id.sort_by_key(|&b| bank.get(b).map(|i| i.id));
    for b in by_id {
        let class = FIRST_CLASS + *bank_class_of.get(b)?;
        let end = tight.take_unit_from(class)?;
        if end != UNMATCHED_BANK && layout.ledger_class_at(end).is_none() {
            return None;
        }
        let routes = tight.reachable_from(class);
        let joined = |node: usize| routes.get(node) == Some(&true);
        // The smallest free ledger id of the classes `can_take` accepts, and its node.
        let smallest = |can_take: &dyn Fn(usize) -> bool| {
            let nodes = layout.ledger_classes.clone().filter(|&j| can_take(j));
            let free_ids = nodes.filter_map(|j| {
                let id = free.get(layout.ledger_class_at(j)?)?.last()?.id;
                Some((id, j))
            });
            free_ids.min()
        };
        let best = match smallest(&joined) {
            // The unit taken off ended at the smallest free id a route joins:
            // nothing to move.
            Some((id, j)) if j == end => Some((id, j)),
            _ => {
                let (hands_on, next) = tight.reaching(end);
                let can_take = |node: usize| joined(node) && hands_on.get(node) == Some(&true);
                let best = smallest(&can_take);
                let taker = best.map_or(UNMATCHED_BANK, |(_, j)| j);
                if !can_take(taker) {
                    return None;
                }
                tight.push_along(taker, end, &next)?;
                best
            }
        };
        if let Some((_, j)) = best {
            let ledger_item = free.get_mut(layout.ledger_class_at(j)?)?.pop()?;
            pairs.push((bank.get(b)?.index, ledger_item.index));
        }
    }
    Some(pairs)
}

/// [`best_matching`] where a side has at most one entry, the usual case
/// (few entries per amount): at most one pair, so the best is the pair
/// within the window with equal references first, then the fewest days
/// apart, then the smallest (bank id, ledger id).
fn best_single_pair(bank: &[Item<'_>], ledger: &[Item<'_>]) -> Option<(usize, usize)> {
    let pairs = bank.iter().flat_map(|b| ledger.iter().map(move |l| (b, l)));
    pairs
        .filter(|(b, l)| (b.day - l.day).abs() <= MATCH_WINDOW_DAYS)
        .min_by_key(|(b, l)| {
            let by_reference = b.key.is_some() && b.key == l.key;
            (!by_reference, (b.day - l.day).abs(), b.id, l.id)
        })
        .map(|(b, l)| (b.index, l.index))
}

/// An arc of a [`Network`]: `flow` units of at most `cap`, each costing
/// `cost`.
#[derive(Debug, Clone, Copy)]
struct Arc {
    from: usize,
    to: usize,
    cap: i64,
    cost: i128,
    flow: i64,
}

/// A step of a path in a network's residual graph: along an arc (one more
/// unit) or back along it (one less).
#[derive(Debug, Clone, Copy)]
struct Step {
    arc: usize,
    forward: bool,
}

/// A flow network: arcs, and each node's arcs out and in.
#[derive(Debug)]
struct Network {
    arcs: Vec<Arc>,
    out: Vec<Vec<usize>>,
    into: Vec<Vec<usize>>,
}

impl Network {
    fn new(nodes: usize) -> Self {
        Self {
            arcs: Vec::new(),
            out: vec![Vec::new(); nodes],
            into: vec![Vec::new(); nodes],
        }
    }

    /// Adds an arc without flow (nodes out of range are ignored: a bug the
    /// flow then finds).
    fn add(&mut self, from: usize, to: usize, cap: i64, cost: i128) {
        let a = self.arcs.len();
        if let (Some(out), Some(into)) = (self.out.get_mut(from), self.into.get_mut(to)) {
            out.push(a);
            into.push(a);
            self.arcs.push(Arc {
                from,
                to,
                cap,
                cost,
                flow: 0,
            });
        }
    }

    /// The residual arc at position `k` of `u`'s (its arcs out, forward,
    /// then its arcs in, backward): step, head, cost, room (possibly 0);
    /// `None` past the last.
    fn residual_at(&self, u: usize, k: usize) -> Option<(Step, usize, i128, i64)> {
        let out = self.out.get(u)?;
        let (arc, forward) = match out.get(k) {
            Some(&a) => (a, true),
            None => (*self.into.get(u)?.get(k - out.len())?, false),
        };
        let step = Step { arc, forward };
        let arc = self.arcs.get(arc)?;
        Some(if forward {
            (step, arc.to, arc.cost, arc.cap - arc.flow)
        } else {
            (step, arc.from, -arc.cost, arc.flow)
        })
    }

    /// The residual arcs out of `u` with room: step, head, cost.
    fn residual_from(&self, u: usize) -> impl Iterator<Item = (Step, usize, i128)> + '_ {
        (0..)
            .map_while(move |k| self.residual_at(u, k))
            .filter(|&(.., room)| room > 0)
            .map(|(step, v, cost, _)| (step, v, cost))
    }

    /// The residual arcs into `v`: the step from their tail, and the tail.
    fn residual_into(&self, v: usize) -> impl Iterator<Item = (Step, usize)> + '_ {
        let along = self.into.get(v).into_iter().flatten().filter_map(|&a| {
            let arc = self.arcs.get(a)?;
            (arc.flow < arc.cap).then_some((
                Step {
                    arc: a,
                    forward: true,
                },
                arc.from,
            ))
        });
        let back = self.out.get(v).into_iter().flatten().filter_map(|&a| {
            let arc = self.arcs.get(a)?;
            (arc.flow > 0).then_some((
                Step {
                    arc: a,
                    forward: false,
                },
                arc.to,
            ))
        });
        along.chain(back)
    }

    /// Moves `units` along `step`; the node it leads to.
    fn apply(&mut self, step: Step, units: i64) -> Option<usize> {
        let arc = self.arcs.get_mut(step.arc)?;
        if step.forward {
            arc.flow += units;
            Some(arc.to)
        } else {
            arc.flow -= units;
            Some(arc.from)
        }
    }

    /// Ships `total` units from `source` to `sink` at the least cost (all
    /// costs start ≥ 0), by the primal-dual method: Dijkstra on reduced
    /// costs, then as many units as the shortest paths carry
    /// ([`Network::ship_along_tight`]), again until all are shipped. The
    /// result is the potentials π that prove it: every residual arc's
    /// reduced cost c(u,v) + π(u) − π(v) is ≥ 0. After each search π(v)
    /// grows by min(dist(v), dist(sink)), which keeps every reduced cost ≥ 0
    /// and makes the shortest paths tight, so the reverse arcs of what is
    /// shipped along them are too.
    fn min_cost_flow(&mut self, source: usize, sink: usize, total: i64) -> Option<Vec<i128>> {
        let nodes = self.out.len();
        let mut potential = vec![0_i128; nodes];
        let mut sent = 0;
        while sent < total {
            let mut dist: Vec<Option<i128>> = vec![None; nodes];
            *dist.get_mut(source)? = Some(0);
            let mut heap = BinaryHeap::from([Reverse((0_i128, source))]);
            while let Some(Reverse((d, u))) = heap.pop() {
                if u == sink {
                    break;
                }
                if dist.get(u).copied().flatten() != Some(d) {
                    continue;
                }
                let from = *potential.get(u)?;
                for (_, v, cost) in self.residual_from(u) {
                    let through = d + cost + from - potential.get(v)?;
                    let best = dist.get_mut(v)?;
                    if best.is_none_or(|b| through < b) {
                        *best = Some(through);
                        heap.push(Reverse((through, v)));
                    }
                }
            }
            // Nodes not settled before the sink are at least as far.
            let reach = dist.get(sink).copied().flatten()?;
            for (p, d) in potential.iter_mut().zip(&dist) {
                *p += d.map_or(reach, |d| d.min(reach));
            }
            match self.ship_along_tight(source, sink, &potential, total - sent)? {
                0 => return None,
                units => sent += units,
            }
        }
        Some(potential)
    }

    /// Ships up to `limit` units from `source` to `sink` along residual
    /// arcs of reduced cost 0 (every such path is a shortest one), as many
    /// as they carry: Dinic's blocking flows, each arc tried once a round.
    /// How many were shipped.
    fn ship_along_tight(
        &mut self,
        source: usize,
        sink: usize,
        potential: &[i128],
        limit: i64,
    ) -> Option<i64> {
        let nodes = self.out.len();
        let tight = |u: usize, v: usize, cost: i128| {
            let (Some(pu), Some(pv)) = (potential.get(u), potential.get(v)) else {
                return false;
            };
            cost + pu - pv == 0
        };
        let mut sent = 0;
        while sent < limit {
            // Each node's level: its fewest tight arcs with room from `source`.
            let mut level: Vec<Option<usize>> = vec![None; nodes];
            *level.get_mut(source)? = Some(0);
            let mut queue = VecDeque::from([source]);
            while let Some(u) = queue.pop_front() {
                let next = level.get(u).copied().flatten()? + 1;
                for (_, v, cost) in self.residual_from(u) {
                    if tight(u, v, cost)
                        && let Some(l @ None) = level.get_mut(v)
                    {
                        *l = Some(next);
                        queue.push_back(v);
                    }
                }
            }
            if level.get(sink).copied().flatten().is_none() {
                break;
            }
            // Paths along rising levels; a node found to lead nowhere loses
            // its level for the round.
            let mut position = vec![0_usize; nodes];
            let mut path: Vec<(Step, usize)> = Vec::new();
            let mut u = source;
            while sent < limit {
                if u == sink {
                    let room = path.iter().map(|&(step, _)| self.room(step));
                    let units = room.min()?.min(limit - sent);
                    for &(step, _) in &path {
                        self.apply(step, units)?;
                    }
                    sent += units;
                    path.clear();
                    u = source;
                    continue;
                }
                let k = position.get_mut(u)?;
                match self.residual_at(u, *k) {
                    Some((step, v, cost, room)) => {
                        let rises = level.get(v).copied().flatten()
                            == level.get(u).copied().flatten().map(|l| l + 1);
                        if room > 0 && rises && tight(u, v, cost) {
                            path.push((step, u));
                            u = v;
                        } else {
                            *k += 1;
                        }
                    }
                    None => {
                        *level.get_mut(u)? = None;
                        let Some((_, tail)) = path.pop() else {
                            break;
                        };
                        u = tail;
                        *position.get_mut(u)? += 1;
                    }
                }
            }
        }
        Some(sent)
    }

    /// How many units `step` can move.
    fn room(&self, step: Step) -> i64 {
        self.arcs.get(step.arc).map_or(0, |arc| {
            if step.forward {
                arc.cap - arc.flow
            } else {
                arc.flow
            }
        })
    }

    /// The arcs of reduced cost 0 under `potential`, with their flow,
    /// but for those at `SOURCE` or `SINK`: the arcs optimal flows may use
    /// (module docs, step 2). `None` if an arc with flow is not among them,
    /// which optimal potentials rule out.
    fn tight_part(&self, potential: &[i128]) -> Option<Network> {
        let mut tight = Network::new(self.out.len());
        for arc in &self.arcs {
            if arc.from == SOURCE || arc.to == SINK {
                continue;
            }
            let reduced = arc.cost + potential.get(arc.from)? - potential.get(arc.to)?;
            if reduced == 0 {
                tight.add(arc.from, arc.to, arc.cap, arc.cost);
                tight.arcs.last_mut()?.flow = arc.flow;
            } else if arc.flow != 0 {
                return None;
            }
        }
        Some(tight)
    }

    /// Takes one unit off the flow out of `node`, following arcs with flow
    /// to where it ends; that node.
    fn take_unit_from(&mut self, mut node: usize) -> Option<usize> {
        for _ in 0..self.out.len() {
            let arcs = &self.arcs;
            let with_flow = self
                .out
                .get(node)?
                .iter()
                .copied()
                .find(|&a| arcs.get(a).is_some_and(|arc| arc.flow > 0));
            let Some(a) = with_flow else {
                return Some(node);
            };
            let arc = self.arcs.get_mut(a)?;
            arc.flow -= 1;
            node = arc.to;
        }
        None
    }

    /// The nodes `from` reaches along arcs (forward, whatever their flow).
    fn reachable_from(&self, from: usize) -> Vec<bool> {
        let mut seen = vec![false; self.out.len()];
        let mut stack = vec![from];
        while let Some(u) = stack.pop() {
            match seen.get_mut(u) {
                Some(s) if !*s => *s = true,
                _ => continue,
            }
            let heads = self.out.get(u).into_iter().flatten();
            stack.extend(heads.filter_map(|&a| self.arcs.get(a).map(|arc| arc.to)));
        }
        seen
    }

    /// The nodes with a residual path to `target` (`target` included), and
    /// each one's first step on it (a breadth-first search backwards).
    fn reaching(&self, target: usize) -> (Vec<bool>, Vec<Option<Step>>) {
        let mut seen = vec![false; self.out.len()];
        let mut next = vec![None; self.out.len()];
        let mut queue = VecDeque::new();
        if let Some(s) = seen.get_mut(target) {
            *s = true;
            queue.push_back(target);
        }
        while let Some(v) = queue.pop_front() {
            for (step, u) in self.residual_into(v) {
                if let (Some(s), Some(n)) = (seen.get_mut(u), next.get_mut(u))
                    && !*s
                {
                    *s = true;
                    *n = Some(step);
                    queue.push_back(u);
                }
            }
        }
        (seen, next)
    }

    /// Moves one unit from `from` to `target` along the steps of
    /// [`Network::reaching`]: `from` receives one unit less, `target` one
    /// more.
    fn push_along(&mut self, mut from: usize, target: usize, next: &[Option<Step>]) -> Option<()> {
        for _ in 0..self.out.len() {
            if from == target {
                return Some(());
            }
            from = self.apply((*next.get(from)?)?, 1)?;
        }
        (from == target).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Reverse;

    use crate::accounting::test_support::*;

    fn entry(id: &str, date: &str, amount: i64, reference: Option<&str>) -> Value {
        json!({"id": id, "date": date, "amount_cents": amount, "reference": reference})
    }

    fn pair(bank: &str, ledger: &str, amount: i64, days: i64, by_reference: bool) -> Value {
        json!({"bank_id": bank, "ledger_id": ledger, "amount_cents": amount,
               "days_apart": days, "by_reference": by_reference})
    }

    #[test]
    fn reconcile_matches_equal_amounts_preferring_a_reference_then_fewer_days_then_smaller_ids() {
        let input = json!({
            "bank": [
                entry("b-1", "2026-03-01", -5000, Some("INV-7")),
                entry("b-2", "2026-03-02", -5000, None),
                entry("b-3", "2026-03-05", 12000, None),
                entry("b-4", "2026-03-10", -999, Some("  ")),
                entry("b-0", "2026-03-02", 300, None),
            ],
            "ledger": [
                entry("l-1", "2026-03-01", -5000, None),
                entry("l-2", "2026-03-03", -5000, Some(" inv-7 ")),
                entry("l-3", "2026-03-09", 12000, None),
                entry("l-4", "2026-03-08", 12000, None),
                entry("l-5", "2026-03-11", -999, Some("")),
                entry("l-6", "2026-03-11", -999, None),
                entry("l-7", "2026-02-01", 777, None),
            ],
        });
        // -5000: b-1 (03-01, "INV-7") and b-2 (03-02) against l-1 (03-01) and
        //   l-2 (03-03, " inv-7 " = "INV-7"); both matchings have 2 pairs:
        //   b-1/l-2 + b-2/l-1 has 1 by reference (2 + 1 = 3 days),
        //   b-1/l-1 + b-2/l-2 none (0 + 1 = 1 day): the reference wins.
        // 12000: b-3 (03-05) against l-3 (03-09, 4 days: too far), l-4 (03-08, 3 days) -> l-4.
        // -999: blank references are none; l-5 and l-6 are both 1 day from b-4
        //   -> the smaller list of pairs: (b-4, l-5).
        // 300: no ledger entry of 300 -> b-0 unmatched; 777: l-7 unmatched.
        // matched by bank id; unmatched ledger by (date, id): l-7 (02-01), l-3 (03-09), l-6 (03-11).
        // bank total: -5000 - 5000 + 12000 - 999 + 300 = 1301.
        // ledger total: -5000 - 5000 + 12000 + 12000 - 999 - 999 + 777 = 12779.
        // net: 1301 - 12779 = -11478 = unmatched bank 300 - unmatched ledger (777 + 12000 - 999 = 11778).
        // (Revision 1's greedy, bank entries in (date, id) order, gave the same pairs.)
        assert_eq!(
            result("reconcile", input),
            json!({
                "matched": [
                    pair("b-1", "l-2", -5000, 2, true),
                    pair("b-2", "l-1", -5000, 1, false),
                    pair("b-3", "l-4", 12000, 3, false),
                    pair("b-4", "l-5", -999, 1, false),
                ],
                "unmatched_bank": ["b-0"],
                "unmatched_ledger": ["l-7", "l-3", "l-6"],
                "bank_total_cents": 1301,
                "ledger_total_cents": 12779,
                "net_difference_cents": -11478,
            })
        );
    }

    #[test]
    fn reconcile_gives_the_contract_example_both_pairs() {
        // b-1 (01-04): l-1 (01-02) 2 days, l-2 (01-05) 1 day. b-2 (01-07): l-2 2 days,
        // l-1 5 days (too far). Only b-1/l-1 + b-2/l-2 has 2 pairs (2 + 2 = 4 days).
        // Revision 1's greedy gave b-1 its nearest, l-2, and left b-2 and l-1 out:
        // a false exception.
        let input = json!({
            "bank": [entry("b-1", "2026-01-04", 100, None), entry("b-2", "2026-01-07", 100, None)],
            "ledger": [entry("l-1", "2026-01-02", 100, None), entry("l-2", "2026-01-05", 100, None)],
        });
        assert_eq!(
            result("reconcile", input),
            json!({
                "matched": [pair("b-1", "l-1", 100, 2, false), pair("b-2", "l-2", 100, 2, false)],
                "unmatched_bank": [], "unmatched_ledger": [],
                "bank_total_cents": 200, "ledger_total_cents": 200, "net_difference_cents": 0,
            })
        );
    }

    #[test]
    fn reconcile_finds_the_most_pairs_where_revision_1_was_greedy() {
        // Revision 1 took b-1 (03-01) first, gave it its nearest, l-a (03-02, 1 day;
        // l-b on 02-27 is 2 days), and left b-2 (03-04) with l-b, 5 days away: unmatched.
        // Now the most pairs: b-1/l-b (2 days) and b-2/l-a (2 days).
        let input = json!({
            "bank": [entry("b-2", "2026-03-04", 10, None), entry("b-1", "2026-03-01", 10, None)],
            "ledger": [entry("l-b", "2026-02-27", 10, None), entry("l-a", "2026-03-02", 10, None)],
        });
        let r = result("reconcile", input);
        assert_eq!(
            r["matched"],
            json!([
                pair("b-1", "l-b", 10, 2, false),
                pair("b-2", "l-a", 10, 2, false)
            ])
        );
        assert_eq!(r["unmatched_bank"], json!([]));
        assert_eq!(r["unmatched_ledger"], json!([]));
        // 10 + 10 - (10 + 10) = 0.
        assert_eq!(r["net_difference_cents"], 0);
    }

    #[test]
    fn reconcile_prefers_more_pairs_to_an_equal_reference() {
        // b-1 (03-01, "R"): l-1 (03-04, "r") 3 days by reference, l-2 (03-01) 0 days.
        // b-2 (03-05): l-1 1 day, l-2 4 days (too far).
        // b-1/l-1 leaves b-2 nothing: 1 pair. b-1/l-2 + b-2/l-1: 2 pairs, no reference.
        let input = json!({
            "bank": [entry("b-1", "2026-03-01", 7, Some("R")), entry("b-2", "2026-03-05", 7, None)],
            "ledger": [entry("l-1", "2026-03-04", 7, Some("r")), entry("l-2", "2026-03-01", 7, None)],
        });
        assert_eq!(
            result("reconcile", input)["matched"],
            json!([
                pair("b-1", "l-2", 7, 0, false),
                pair("b-2", "l-1", 7, 1, false)
            ])
        );
    }

    #[test]
    fn reconcile_prefers_more_equal_references_to_fewer_days() {
        // b-1 (03-01, "A"): l-1 (03-04, " a ") 3 days by reference, l-2 (03-01) 0 days.
        // b-2 (03-02): l-1 2 days, l-2 1 day. Both matchings have 2 pairs:
        // b-1/l-1 + b-2/l-2: 1 by reference, 3 + 1 = 4 days;
        // b-1/l-2 + b-2/l-1: none, 0 + 2 = 2 days. The reference wins.
        let input = json!({
            "bank": [entry("b-1", "2026-03-01", 7, Some("A")), entry("b-2", "2026-03-02", 7, None)],
            "ledger": [entry("l-1", "2026-03-04", 7, Some(" a ")), entry("l-2", "2026-03-01", 7, None)],
        });
        assert_eq!(
            result("reconcile", input)["matched"],
            json!([
                pair("b-1", "l-1", 7, 3, true),
                pair("b-2", "l-2", 7, 1, false)
            ])
        );
    }

    #[test]
    fn reconcile_prefers_fewer_days_in_total_to_smaller_ids() {
        // b-1 (03-01): l-a (03-04) 3 days, l-b (03-02) 1 day. b-2 (03-03): l-a 1, l-b 1.
        // b-1/l-a + b-2/l-b: 3 + 1 = 4 days, the smaller list [(b-1, l-a), (b-2, l-b)];
        // b-1/l-b + b-2/l-a: 1 + 1 = 2 days. Fewer days win.
        let input = json!({
            "bank": [entry("b-1", "2026-03-01", 7, None), entry("b-2", "2026-03-03", 7, None)],
            "ledger": [entry("l-a", "2026-03-04", 7, None), entry("l-b", "2026-03-02", 7, None)],
        });
        assert_eq!(
            result("reconcile", input)["matched"],
            json!([
                pair("b-1", "l-b", 7, 1, false),
                pair("b-2", "l-a", 7, 1, false)
            ])
        );
    }

    #[test]
    fn reconcile_breaks_the_last_tie_by_the_smallest_list_of_pairs_by_code_point() {
        // All on one day: 2 pairs, no reference, 0 days either way. By code point
        // "B" (U+0042) < "a" (U+0061) and "a10" < "a9" ('1' < '9'): the lists are
        // [(B, a10), (a, a9)] and [(B, a9), (a, a10)]; the first is smaller.
        let day = "2026-03-01";
        let input = json!({
            "bank": [entry("a", day, 7, None), entry("B", day, 7, None)],
            "ledger": [entry("a9", day, 7, None), entry("a10", day, 7, None)],
        });
        assert_eq!(
            result("reconcile", input)["matched"],
            json!([pair("B", "a10", 7, 0, false), pair("a", "a9", 7, 0, false)])
        );
        // One ledger entry for two bank entries: [(a, x)] < [(b, x)].
        let input = json!({
            "bank": [entry("b", day, 7, None), entry("a", day, 7, None)],
            "ledger": [entry("x", day, 7, None)],
        });
        let r = result("reconcile", input);
        assert_eq!(r["matched"], json!([pair("a", "x", 7, 0, false)]));
        assert_eq!(r["unmatched_bank"], json!(["b"]));
        // The smallest ledger id only where the most pairs stay possible:
        // a (03-05) is 3 days from each of l1 (03-08), l2 and l3 (03-02); b (03-11)
        // only from l1. 2 pairs need b/l1; then a takes l2 (< l3): 3 + 3 = 6 days
        // either way, [(a, l2), (b, l1)] < [(a, l3), (b, l1)].
        let input = json!({
            "bank": [entry("a", "2026-03-05", 7, None), entry("b", "2026-03-11", 7, None)],
            "ledger": [entry("l1", "2026-03-08", 7, None), entry("l2", "2026-03-02", 7, None),
                       entry("l3", "2026-03-02", 7, None)],
        });
        let r = result("reconcile", input);
        assert_eq!(
            r["matched"],
            json!([pair("a", "l2", 7, 3, false), pair("b", "l1", 7, 3, false)])
        );
        assert_eq!(r["unmatched_ledger"], json!(["l3"]));
    }

    #[test]
    fn reconcile_of_empty_sides_is_zero() {
        assert_eq!(
            result("reconcile", json!({"bank": [], "ledger": []})),
            json!({"matched": [], "unmatched_bank": [], "unmatched_ledger": [],
                   "bank_total_cents": 0, "ledger_total_cents": 0, "net_difference_cents": 0})
        );
        // One side only: 250 - 0 = 250. An id may be on both sides; here only one.
        let r = result(
            "reconcile",
            json!({"bank": [entry("x", "2026-01-01", 250, None)], "ledger": []}),
        );
        assert_eq!(r["unmatched_bank"], json!(["x"]));
        assert_eq!(r["net_difference_cents"], 250);
    }

    #[test]
    fn reconcile_allows_one_id_on_both_sides() {
        let input = json!({
            "bank": [entry("same", "2026-01-01", 5, None)],
            "ledger": [entry("same", "2026-01-04", 5, None)],
        });
        // 3 days apart: within the window.
        assert_eq!(result("reconcile", input)["matched"][0]["days_apart"], 3);
    }

    #[test]
    fn reconcile_names_the_field_of_input_that_does_not_parse() {
        let e = entry("a", "2026-01-01", 1, None);
        let cases = [
            (json!({"bank": []}), "input.ledger"),
            (json!({"ledger": []}), "input.bank"),
            (json!({"bank": [e, e], "ledger": []}), "input.bank[1].id"),
            (json!({"bank": [], "ledger": [e, e]}), "input.ledger[1].id"),
            (
                json!({"bank": [], "ledger": [entry("a", "2026-1-01", 1, None)]}),
                "input.ledger[0].date",
            ),
            (
                json!({"bank": [{"id": "a", "date": "2026-01-01"}], "ledger": []}),
                "input.bank[0].amount_cents",
            ),
            (
                json!({"bank": [{"id": "a", "date": "2026-01-01", "amount_cents": "5"}], "ledger": []}),
                "input.bank[0].amount_cents",
            ),
            (
                json!({"bank": [{"id": "a", "date": "2026-01-01", "amount_cents": 5, "reference": 7}], "ledger": []}),
                "input.bank[0].reference",
            ),
            (
                json!({"bank": [{"id": "", "date": "2026-01-01", "amount_cents": 5}], "ledger": []}),
                "input.bank[0].id",
            ),
            (
                json!({"bank": [], "ledger": [{"id": "a", "date": "2026-01-01", "amount_cents": 5, "ref": "x"}]}),
                "input.ledger[0].ref",
            ),
            (
                json!({"bank": [], "ledger": [], "window": 5}),
                "input.window",
            ),
        ];
        invalid_fields("reconcile", cases);
    }

    #[test]
    fn reconcile_refuses_a_side_whose_total_passes_ten_to_the_fifteen() {
        let big = 600_000_000_000_000_i64;
        // 6 x 10^14 x 2 = 1.2 x 10^15 on the bank side.
        let bank = json!({"bank": [entry("a", "2026-01-01", big, None), entry("b", "2026-01-01", big, None)],
                          "ledger": []});
        assert_eq!(invalid_field("reconcile", bank), "input.bank");
        let ledger = json!({"bank": [],
                            "ledger": [entry("a", "2026-01-01", -big, None), entry("b", "2026-01-01", -big, None)]});
        assert_eq!(invalid_field("reconcile", ledger), "input.ledger");
        // At the limits on both sides: 10^15 - (-10^15) = 2 x 10^15, shown as is.
        let max = 1_000_000_000_000_000_i64;
        let r = result(
            "reconcile",
            json!({"bank": [entry("a", "2026-01-01", max, None)],
                                        "ledger": [entry("b", "2026-01-01", -max, None)]}),
        );
        assert_eq!(r["net_difference_cents"], 2 * max);
    }

    proptest! {
        #[test]
        fn reconcile_totals_and_net_difference_agree_with_what_is_left(
            bank in proptest::collection::vec((0..10_i64, signed_cents()), 0..10),
            ledger in proptest::collection::vec((0..10_i64, signed_cents()), 0..10),
        ) {
            let side = |entries: &[(i64, i64)], prefix: &str| -> Vec<Value> {
                entries.iter().enumerate().map(|(i, &(day, a))| {
                    entry(&format!("{prefix}{i}"), &format!("2026-01-{:02}", day + 1), a, None)
                }).collect()
            };
            let input = json!({"bank": side(&bank, "b"), "ledger": side(&ledger, "l")});
            prop_assert!(testing::refuses_or_answers(AGENT, "reconcile", &input));
            let a = action("reconcile");
            if a.validate(&input).is_err() {
                return Ok(());
            }
            let r = a.run(&input).expect("a valid input is answered").result;
            let amount = |entries: &[(i64, i64)], id: &Value| {
                let i: usize = id.as_str().expect("an id")[1..].parse().expect("<side><i>");
                entries[i].1
            };
            let bank_total: i64 = bank.iter().map(|e| e.1).sum();
            let ledger_total: i64 = ledger.iter().map(|e| e.1).sum();
            prop_assert_eq!(r["bank_total_cents"].as_i64(), Some(bank_total));
            prop_assert_eq!(r["ledger_total_cents"].as_i64(), Some(ledger_total));
            prop_assert_eq!(r["net_difference_cents"].as_i64(), Some(bank_total - ledger_total));
            let left_bank: i64 = r["unmatched_bank"].as_array().expect("a list").iter().map(|id| amount(&bank, id)).sum();
            let left_ledger: i64 = r["unmatched_ledger"].as_array().expect("a list").iter().map(|id| amount(&ledger, id)).sum();
            prop_assert_eq!(left_bank - left_ledger, bank_total - ledger_total);
            let matched = r["matched"].as_array().expect("a list");
            prop_assert_eq!(matched.len() + r["unmatched_bank"].as_array().map_or(0, Vec::len), bank.len());
            prop_assert_eq!(matched.len() + r["unmatched_ledger"].as_array().map_or(0, Vec::len), ledger.len());
            for m in matched {
                prop_assert_eq!(amount(&bank, &m["bank_id"]), amount(&ledger, &m["ledger_id"]));
                prop_assert!(m["days_apart"].as_i64().expect("days") <= 3);
            }
        }
    }

    /// An entry for the brute force: id, day (0 is 2026-01-01), amount, reference.
    type Row = (String, i64, i64, Option<&'static str>);

    fn rows(rows: &[Row]) -> Vec<Value> {
        rows.iter()
            .map(|(id, day, amount, r)| entry(id, &format!("2026-01-{:02}", day + 1), *amount, *r))
            .collect()
    }

    /// A side of up to 5 entries: ids whose code-point order is not their
    /// natural one, mostly one amount, 8 days, a few references (equal
    /// ignoring case and spaces, or blank).
    fn side() -> impl Strategy<Value = Vec<Row>> {
        (
            Just(vec!["a", "B", "a10", "a9", "b", "é", "Z"]).prop_shuffle(),
            proptest::collection::vec(
                (
                    0..8_i64,
                    prop::sample::select(vec![1_i64, 1, 1, -2]),
                    prop::sample::select(vec![
                        None,
                        None,
                        Some("R1"),
                        Some(" r1"),
                        Some("R2"),
                        Some("  "),
                    ]),
                ),
                0..=5,
            ),
        )
            .prop_map(|(ids, entries)| {
                entries
                    .into_iter()
                    .zip(ids)
                    .map(|((day, amount, r), id)| (id.to_string(), day, amount, r))
                    .collect()
            })
    }

    /// The reference key, written again: trimmed, lower case, not blank.
    fn key(reference: Option<&str>) -> Option<String> {
        reference
            .map(|r| r.trim().to_lowercase())
            .filter(|r| !r.is_empty())
    }

    /// Every matching of `bank` and `ledger`, as (bank, ledger) index pairs.
    fn matchings(bank: &[Row], ledger: &[Row]) -> Vec<Vec<(usize, usize)>> {
        let mut all = vec![Vec::new()];
        for (b, bank_row) in bank.iter().enumerate() {
            let mut next = Vec::new();
            for m in &all {
                next.push(m.clone());
                for (l, ledger_row) in ledger.iter().enumerate() {
                    let free = !m.iter().any(|&(_, used)| used == l);
                    if free && bank_row.2 == ledger_row.2 && (bank_row.1 - ledger_row.1).abs() <= 3
                    {
                        let mut with = m.clone();
                        with.push((b, l));
                        next.push(with);
                    }
                }
            }
            all = next;
        }
        all
    }

    /// The contract's result by brute force: the best of every matching by
    /// the four keys.
    fn brute_force(bank: &[Row], ledger: &[Row]) -> Value {
        let by_reference =
            |b: usize, l: usize| key(bank[b].3).is_some() && key(bank[b].3) == key(ledger[l].3);
        let days = |b: usize, l: usize| (bank[b].1 - ledger[l].1).abs();
        let sorted = |m: &[(usize, usize)]| {
            let mut list: Vec<(&str, &str)> = m
                .iter()
                .map(|&(b, l)| (bank[b].0.as_str(), ledger[l].0.as_str()))
                .collect();
            list.sort();
            list
        };
        let best = matchings(bank, ledger)
            .into_iter()
            .min_by_key(|m| {
                let references = m.iter().filter(|&&(b, l)| by_reference(b, l)).count();
                let total_days: i64 = m.iter().map(|&(b, l)| days(b, l)).sum();
                (Reverse(m.len()), Reverse(references), total_days, sorted(m))
            })
            .expect("the empty matching at least");
        let matched: Vec<Value> = sorted(&best)
            .into_iter()
            .map(|(bank_id, ledger_id)| {
                let (b, l) = *best
                    .iter()
                    .find(|&&(b, _)| bank[b].0 == bank_id)
                    .expect("a pair");
                pair(
                    bank_id,
                    ledger_id,
                    bank[b].2,
                    days(b, l),
                    by_reference(b, l),
                )
            })
            .collect();
        let unmatched = |rows: &[Row], used: Vec<usize>| -> Vec<String> {
            let mut left: Vec<&Row> = rows
                .iter()
                .enumerate()
                .filter(|(i, _)| !used.contains(i))
                .map(|(_, r)| r)
                .collect();
            left.sort_by_key(|r| (r.1, r.0.clone()));
            left.into_iter().map(|r| r.0.clone()).collect()
        };
        let bank_total: i64 = bank.iter().map(|r| r.2).sum();
        let ledger_total: i64 = ledger.iter().map(|r| r.2).sum();
        json!({
            "matched": matched,
            "unmatched_bank": unmatched(bank, best.iter().map(|p| p.0).collect()),
            "unmatched_ledger": unmatched(ledger, best.iter().map(|p| p.1).collect()),
            "bank_total_cents": bank_total,
            "ledger_total_cents": ledger_total,
            "net_difference_cents": bank_total - ledger_total,
        })
    }

    proptest! {
        #[test]
        fn reconcile_gives_the_best_matching_that_brute_force_finds(bank in side(), ledger in side()) {
            let input = json!({"bank": rows(&bank), "ledger": rows(&ledger)});
            prop_assert_eq!(result("reconcile", input), brute_force(&bank, &ledger));
        }
    }
}
