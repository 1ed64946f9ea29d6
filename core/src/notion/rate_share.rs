//! One Notion token's request timeline, shared by every sync step that uses the token.
//!
//! Notion limits requests per integration token, not per database: the projects of a site
//! (Posts, Authors, Tags made with one create) share a token, and each pacing itself at the
//! limit would together send a multiple of it. So the slots of a token's timeline (one per
//! [`MIN_REQUEST_INTERVAL_MS`]) are handed out in one place: a user (a project) asks for up to
//! `want` slots and gets a [`Grant`], consecutive slots from its start. Slots are never handed
//! out twice and never closer than the interval, so whatever order the users send in, the token
//! sees at most one request per interval.
//!
//! Fairness: while another user is active (asked or held slots within [`RECENT_MS`]), grants
//! are [`SHARED_GRANT_SLOTS`] long, so users interleave about once a second; a user alone gets
//! up to [`LONE_GRANT_SLOTS`] at once once it has been asking (its first grant is a shared
//! one's, so that a short run never holds seconds of slots it will not use) and then asks a
//! third as often (each ask costs it a subrequest). A user alone never waits for anything but
//! its own previous slots.
//!
//! The timeline is a single "next free" instant, not a set of holes: a user that does not use
//! the end of its grant gives it back with its next ask ([`Ask::resume_at_ms`]), which rewinds
//! the timeline only when nobody reserved after that grant. A 429's Retry-After reported by any
//! user ([`Ask::pause_until_ms`]) holds every grant made from then on until it has passed;
//! slots granted before the report are not recalled (they are at most a few seconds long).
//!
//! [`MIN_REQUEST_INTERVAL_MS`]: crate::notion::protocol::MIN_REQUEST_INTERVAL_MS

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Slots of a grant while other users are active: about a second at 3 requests/s.
pub const SHARED_GRANT_SLOTS: u32 = 3;
/// Slots of a grant for a user alone: about three seconds at 3 requests/s.
pub const LONE_GRANT_SLOTS: u32 = 9;
/// Another user that asked, or held slots, this recently counts as active.
pub const RECENT_MS: u64 = 2_000;
/// A user quiet this long is forgotten (it counts as active no more long before).
const FORGET_AFTER_MS: u64 = 60_000;

/// What a user asks of the token's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ask {
    /// Who asks (a project id): fairness and give-backs are per user.
    pub user: String,
    /// Slots it can use now (at least one is granted); 0: it is done with the timeline for now
    /// (its step or run ended) and only gives back what it did not use (see [`RateShare::ask`]).
    pub want: u32,
    /// The user's own next free instant: it sends nothing before it, and every slot of its last
    /// grant from it on is unused and given back.
    pub resume_at_ms: u64,
    /// Notion answered this user 429 with Retry-After: no slot of any user before this instant.
    pub pause_until_ms: Option<u64>,
    /// An API request's read, asking one slot just before it sends: it holds no slot ahead, so
    /// it does not make the syncs on the token ask more often (it waits for the current grant).
    #[serde(default)]
    pub interactive: bool,
}

/// Consecutive slots of the timeline, the first at `start_ms`, one per interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub start_ms: u64,
    pub slots: u32,
    pub interval_ms: u64,
}

impl Grant {
    /// When slot `index` (0-based) of the grant may be used.
    pub fn slot_ms(&self, index: u32) -> u64 {
        self.start_ms + u64::from(index) * self.interval_ms
    }

    /// The first instant after the grant: where the next one may start.
    pub fn end_ms(&self) -> u64 {
        self.slot_ms(self.slots)
    }
}

#[derive(Debug, Clone, Copy)]
struct User {
    last_ask_ms: u64,
    grant: Grant,
    interactive: bool,
}

impl User {
    /// The last instant the user was seen asking or holding slots.
    fn last_active_ms(&self) -> u64 {
        self.last_ask_ms.max(self.grant.end_ms())
    }
}

/// One token's timeline and who used it lately.
#[derive(Debug, Clone)]
pub struct RateShare {
    interval_ms: u64,
    /// The end of the latest grant: no new slot starts before it.
    next_free_ms: u64,
    /// The latest Retry-After reported: no new slot starts before it.
    paused_until_ms: u64,
    /// Who holds the latest grant: only that grant's tail can be given back.
    last_holder: Option<String>,
    users: BTreeMap<String, User>,
}

impl RateShare {
    /// A timeline of one slot per `interval_ms`, free from now on.
    pub fn new(interval_ms: u64) -> Self {
        Self {
            interval_ms,
            next_free_ms: 0,
            paused_until_ms: 0,
            last_holder: None,
            users: BTreeMap::new(),
        }
    }

    /// Grants `ask.user` up to `ask.want` slots, from the first instant at or after `now_ms`
    /// that the timeline, any pause and the user's own next free instant allow.
    pub fn ask(&mut self, now_ms: u64, ask: &Ask) -> Grant {
        self.users
            .retain(|_, u| u.last_active_ms().saturating_add(FORGET_AFTER_MS) > now_ms);
        if let Some(until) = ask.pause_until_ms {
            self.pause_until(until);
        }
        self.give_back(&ask.user, ask.resume_at_ms);
        if ask.want == 0 {
            // Leaving: no longer an active user whose presence shrinks the others' grants.
            self.users.remove(&ask.user);
            return Grant {
                start_ms: now_ms,
                slots: 0,
                interval_ms: self.interval_ms,
            };
        }
        // A user just arriving starts small even alone: a short run (a webhook's few rows, a
        // small source of a site) then never makes a project that arrives a moment later wait
        // seconds behind slots it will not use.
        let cap = if self.others_active(&ask.user, now_ms) || !self.continues(&ask.user, now_ms) {
            SHARED_GRANT_SLOTS
        } else {
            LONE_GRANT_SLOTS
        };
        let grant = Grant {
            start_ms: now_ms
                .max(self.next_free_ms)
                .max(self.paused_until_ms)
                .max(ask.resume_at_ms),
            slots: ask.want.clamp(1, cap),
            interval_ms: self.interval_ms,
        };
        self.next_free_ms = grant.end_ms();
        self.last_holder = Some(ask.user.clone());
        self.users.insert(
            ask.user.clone(),
            User {
                last_ask_ms: now_ms,
                grant,
                interactive: ask.interactive,
            },
        );
        grant
    }

    /// `user` will use no slot of its last grant from `from_ms` on: when that grant is the
    /// latest, the timeline rewinds to the first of those slots (never before the grant, whose
    /// earlier slots may have been used).
    pub fn give_back(&mut self, user: &str, from_ms: u64) {
        if self.last_holder.as_deref() != Some(user) {
            return;
        }
        let Some(held) = self.users.get(user) else {
            return;
        };
        let grant = held.grant;
        if from_ms < grant.end_ms() {
            self.next_free_ms = from_ms.max(grant.start_ms);
        }
    }

    /// Notion asked for a pause (429 Retry-After): no slot granted from now on starts before
    /// `until_ms`.
    pub fn pause_until(&mut self, until_ms: u64) {
        self.paused_until_ms = self.paused_until_ms.max(until_ms);
    }

    /// Whether `user` itself asked or held slots within [`RECENT_MS`] of `now_ms`.
    fn continues(&self, user: &str, now_ms: u64) -> bool {
        self.users
            .get(user)
            .is_some_and(|u| u.last_active_ms().saturating_add(RECENT_MS) > now_ms)
    }

    /// Whether a user other than `user` (and not an interactive one) asked or held slots
    /// within [`RECENT_MS`] of `now_ms`.
    fn others_active(&self, user: &str, now_ms: u64) -> bool {
        self.users.iter().any(|(id, u)| {
            id != user && !u.interactive && u.last_active_ms().saturating_add(RECENT_MS) > now_ms
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const I: u64 = 334;

    fn ask(user: &str, want: u32, resume_at_ms: u64) -> Ask {
        Ask {
            user: user.to_owned(),
            want,
            resume_at_ms,
            pause_until_ms: None,
            interactive: false,
        }
    }

    #[test]
    fn a_lone_user_gets_big_blocks_back_to_back_and_never_waits_for_idle_time() {
        let mut share = RateShare::new(I);
        let first = share.ask(1_000, &ask("a", 50, 0));
        assert_eq!(
            (first.start_ms, first.slots),
            (1_000, SHARED_GRANT_SLOTS),
            "a first grant is small"
        );
        // Used up: the next block follows at once, a lone user's.
        let second = share.ask(first.end_ms() - 10, &ask("a", 50, first.end_ms()));
        assert_eq!(
            (second.start_ms, second.slots),
            (first.end_ms(), LONE_GRANT_SLOTS)
        );
        // Idle for a while: it starts now, not where the timeline ended.
        let later = second.end_ms() + 10_000;
        assert_eq!(
            share.ask(later, &ask("a", 2, second.end_ms())).start_ms,
            later
        );
        assert_eq!(
            share.ask(later, &ask("a", 0, later + I)).slots,
            0,
            "want 0: leaving, nothing granted"
        );
    }

    #[test]
    fn users_interleave_in_small_grants_while_more_than_one_is_active() {
        let mut share = RateShare::new(I);
        let a = share.ask(0, &ask("a", 40, 0));
        assert_eq!(
            a.slots, SHARED_GRANT_SLOTS,
            "alone so far, but a first grant is small"
        );
        let b = share.ask(10, &ask("b", 40, 0));
        assert_eq!((b.start_ms, b.slots), (a.end_ms(), SHARED_GRANT_SLOTS));
        let c = share.ask(20, &ask("c", 40, 0));
        assert_eq!((c.start_ms, c.slots), (b.end_ms(), SHARED_GRANT_SLOTS));
        // Each asks again once its grant is used: round robin, adjacent, 3 slots each.
        let mut users = [("a", a), ("b", b), ("c", c)];
        let mut end = c.end_ms();
        for _ in 0..4 {
            for (user, grant) in &mut users {
                let now = grant.slot_ms(grant.slots - 1) + 5;
                *grant = share.ask(now, &ask(user, 40, grant.end_ms()));
                assert_eq!((grant.start_ms, grant.slots), (end, SHARED_GRANT_SLOTS));
                end = grant.end_ms();
            }
        }
        // The others stopped: once they are quiet for RECENT_MS, big blocks again.
        let now = end + RECENT_MS;
        let first = share.ask(now, &ask("a", 40, 0));
        assert_eq!(
            first.slots, SHARED_GRANT_SLOTS,
            "back after a gap: a first grant"
        );
        assert_eq!(
            share
                .ask(first.end_ms() - 5, &ask("a", 40, first.end_ms()))
                .slots,
            LONE_GRANT_SLOTS
        );
    }

    #[test]
    fn an_api_read_takes_the_next_slot_without_shrinking_a_lone_sync_s_grants() {
        let mut share = RateShare::new(I);
        let read = Ask {
            interactive: true,
            ..ask("api:1", 1, 0)
        };
        let first = share.ask(1_000, &read);
        assert_eq!((first.start_ms, first.slots), (1_000, 1));
        // A sync right after it: its first grant, after the read's slot.
        let sync = share.ask(1_100, &ask("a", 50, 0));
        assert_eq!((sync.start_ms, sync.slots), (1_000 + I, SHARED_GRANT_SLOTS));
        // The next read waits for that grant: no slot is ever handed out twice.
        let again = share.ask(
            1_200,
            &Ask {
                user: "api:2".into(),
                ..read
            },
        );
        assert_eq!(again.start_ms, sync.end_ms());
        // The sync is still alone: a lone user's grant, after the read's slot.
        let next = share.ask(sync.end_ms() - 10, &ask("a", 50, sync.end_ms()));
        assert_eq!(
            (next.start_ms, next.slots),
            (again.end_ms(), LONE_GRANT_SLOTS)
        );
    }

    #[test]
    fn a_user_that_leaves_gives_its_unused_slots_back_and_no_longer_counts_as_active() {
        let mut share = RateShare::new(I);
        let first = share.ask(0, &ask("a", 50, 0));
        let a = share.ask(first.end_ms() - 10, &ask("a", 50, first.end_ms()));
        assert_eq!(a.slots, LONE_GRANT_SLOTS);
        // "a" used 1 slot of its nine and its run ended: it leaves, giving back the other 8.
        let left = share.ask(a.start_ms + 100, &ask("a", 0, a.start_ms + I));
        assert_eq!(left.slots, 0);
        // "b" comes: alone, at once, not after a's nine.
        let now = a.start_ms + 500;
        let b = share.ask(now, &ask("b", 50, 0));
        assert_eq!((b.start_ms, b.slots), (now, SHARED_GRANT_SLOTS));
        // ...and alone still at its next ask, a lone user's grant.
        let b2 = share.ask(b.end_ms() - 10, &ask("b", 50, b.end_ms()));
        assert_eq!((b2.start_ms, b2.slots), (b.end_ms(), LONE_GRANT_SLOTS));
    }

    #[test]
    fn a_pause_holds_every_user_and_a_late_one_does_not_shorten_it() {
        let mut share = RateShare::new(I);
        share.ask(0, &ask("a", 3, 0));
        let paused = Ask {
            pause_until_ms: Some(5_000),
            ..ask("a", 3, 0)
        };
        assert_eq!(share.ask(100, &paused).start_ms, 5_000);
        let earlier = Ask {
            pause_until_ms: Some(2_000),
            ..ask("b", 3, 0)
        };
        assert!(share.ask(200, &earlier).start_ms >= 5_000 + 3 * I);
    }

    #[test]
    fn an_unused_tail_rewinds_the_timeline_only_when_nobody_reserved_after_it() {
        let mut share = RateShare::new(I);
        let a = share.ask(0, &ask("a", 9, 0));
        // Two slots used, the step ended: the next ask gives back from the third.
        let again = share.ask(2 * I, &ask("a", 9, a.slot_ms(2)));
        assert_eq!(again.start_ms, a.slot_ms(2));
        // b reserved after a's grant: a's give-back cannot rewind past b's slots.
        let b = share.ask(2 * I + 1, &ask("b", 3, 0));
        assert_eq!(b.start_ms, again.end_ms());
        let a2 = share.ask(2 * I + 2, &ask("a", 3, again.slot_ms(1)));
        assert_eq!(a2.start_ms, b.end_ms());
        // A grant never used at all is given back whole, never before its start.
        let mut lone = RateShare::new(I);
        let g = lone.ask(1_000, &ask("x", 9, 0));
        assert_eq!(lone.ask(1_000, &ask("x", 9, 0)).start_ms, g.start_ms);
    }

    #[test]
    fn users_quiet_for_long_are_forgotten() {
        let mut share = RateShare::new(I);
        for i in 0..100 {
            share.ask(i, &ask(&format!("u{i}"), 1, 0));
        }
        share.ask(10_000_000, &ask("z", 1, 0));
        assert_eq!(share.users.len(), 1);
    }

    /// One user's doing in a simulation: it sends `used` more slots of its grant, waits
    /// `delay_ms`, and asks again (reporting a pause when Notion answered 429).
    #[derive(Debug, Clone)]
    struct Move {
        user: usize,
        used: u32,
        delay_ms: u64,
        want: u32,
        pause_ms: Option<u64>,
    }

    fn moves(users: usize) -> impl Strategy<Value = Vec<Move>> {
        proptest::collection::vec(
            (
                0..users,
                0u32..12,
                0u64..4_000,
                1u32..30,
                proptest::option::weighted(0.1, 1u64..20_000),
            )
                .prop_map(|(user, used, delay_ms, want, pause_ms)| Move {
                    user,
                    used,
                    delay_ms,
                    want,
                    pause_ms,
                }),
            1..80,
        )
    }

    /// What one user holds in the simulation.
    #[derive(Debug, Clone, Copy, Default)]
    struct Held {
        grant: Option<Grant>,
        used: u32,
        next_free_ms: u64,
    }

    /// Plays `moves` against one timeline: every slot sent, every (ask time, ask, grant) made.
    fn play(moves: &[Move], users: usize) -> (Vec<u64>, Vec<(u64, Ask, Grant)>) {
        let mut share = RateShare::new(I);
        let mut held = vec![Held::default(); users];
        let mut now = 0u64;
        let mut sent = Vec::new();
        let mut asks = Vec::new();
        for m in moves {
            let h = &mut held[m.user];
            if let Some(grant) = h.grant {
                let n = m.used.min(grant.slots - h.used);
                for k in h.used..h.used + n {
                    now = now.max(grant.slot_ms(k));
                    sent.push(grant.slot_ms(k));
                    h.next_free_ms = grant.slot_ms(k) + I;
                }
                h.used += n;
            }
            now += m.delay_ms;
            let ask = Ask {
                user: format!("u{}", m.user),
                want: m.want,
                resume_at_ms: h.next_free_ms,
                pause_until_ms: m.pause_ms.map(|p| now + p),
                interactive: false,
            };
            let grant = share.ask(now, &ask);
            // A user with a pause of its own sends nothing before it.
            h.next_free_ms = h.next_free_ms.max(ask.pause_until_ms.unwrap_or(0));
            *h = Held {
                grant: Some(grant),
                used: 0,
                next_free_ms: h.next_free_ms,
            };
            asks.push((now, ask, grant));
        }
        sent.sort_unstable();
        (sent, asks)
    }

    proptest! {
        #[test]
        fn no_two_slots_sent_by_any_users_are_closer_than_the_interval(moves in moves(4)) {
            let (sent, _) = play(&moves, 4);
            for pair in sent.windows(2) {
                prop_assert!(pair[1] - pair[0] >= I, "{pair:?}");
            }
        }

        #[test]
        fn grants_honour_every_pause_reported_before_them(moves in moves(3)) {
            let (_, asks) = play(&moves, 3);
            let mut paused_until = 0;
            for (now, ask, grant) in asks {
                paused_until = paused_until.max(ask.pause_until_ms.unwrap_or(0));
                prop_assert!(grant.start_ms >= paused_until.max(now).max(ask.resume_at_ms));
                prop_assert!(grant.slots >= 1 && grant.slots <= ask.want.max(1));
            }
        }

        #[test]
        fn a_lone_user_waits_for_nothing_but_its_own_slots_and_pauses(moves in moves(1)) {
            let (_, asks) = play(&moves, 1);
            let mut paused_until = 0;
            // When the user last asked or held slots: a first grant (or one after a gap) is small.
            let mut active_until: Option<u64> = None;
            for (now, ask, grant) in asks {
                paused_until = paused_until.max(ask.pause_until_ms.unwrap_or(0));
                prop_assert_eq!(grant.start_ms, now.max(ask.resume_at_ms).max(paused_until));
                let continues = active_until.is_some_and(|at| at + RECENT_MS > now);
                let cap = if continues { LONE_GRANT_SLOTS } else { SHARED_GRANT_SLOTS };
                prop_assert_eq!(grant.slots, ask.want.min(cap));
                active_until = Some(now.max(grant.end_ms()));
            }
        }

        #[test]
        fn under_contention_no_grant_is_bigger_than_the_shared_one(moves in moves(3)) {
            let (_, asks) = play(&moves, 3);
            let mut last_seen: BTreeMap<String, u64> = BTreeMap::new();
            let mut grants: BTreeMap<String, Grant> = BTreeMap::new();
            for (now, ask, grant) in asks {
                let contended = grants.iter().any(|(u, g)| {
                    *u != ask.user
                        && (last_seen[u] + RECENT_MS > now || g.end_ms() + RECENT_MS > now)
                });
                if contended {
                    prop_assert!(grant.slots <= SHARED_GRANT_SLOTS);
                }
                last_seen.insert(ask.user.clone(), now);
                grants.insert(ask.user.clone(), grant);
            }
        }
    }
}
