//! The sorted set type: a listpack of member/score pairs in score order while small
//! (`zset-max-listpack-entries`, `zset-max-listpack-value`), a skiplist plus member index once
//! it grows — Redis 7.0's encodings. Sorted set commands live in `command/zset.rs`.
//!
//! CONTRACT used by other modules (RDB, digest, DEBUG, commands): `len`, `encoding`, `iter`
//! ((member, score) in score order), `as_listpack`, `new`.
//!
//! # The two encodings
//!
//! * **listpack**: entries `member, score, member, score, ...` ordered by (score, member).
//!   A score is written as Redis's `d2string` writes it: an integral score strictly inside
//!   ±2^52 as an integer (so `-0` becomes `0`, as in Redis 7.0), `inf`/`-inf`, anything else
//!   in `%.17g`; the listpack then stores integer-looking text as an integer entry. Every
//!   operation is a linear walk, which is what Redis does and is cheap below 128 entries.
//! * **skiplist**: [`SortedSet`] (skiplist with spans + member hash index): O(1) score
//!   lookups, O(log n) ranks and range starts.
//!
//! A zset starts as a listpack (unless the limits forbid even that) and is converted to a
//! skiplist when an insertion would pass a limit. It never converts back on its own; results
//! built whole (`from_pairs`, for ZUNIONSTORE & co.) take the encoding that fits.
//!
//! Ranks are 0-based and ascending everywhere in this module; commands translate REV ranges.

use super::listpack::{Entry, IntBuf, LP_INTBUF_SIZE, Listpack};
use super::skiplist::{self, LexRange, ScoreRange, SortedSet};

/// The encoding limits of the configuration, read once per command.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `zset-max-listpack-entries`: most members a listpack holds.
    pub max_entries: usize,
    /// `zset-max-listpack-value`: longest member a listpack holds.
    pub max_value: usize,
}

impl Limits {
    /// True when `count` members whose longest is `max_len` bytes fit a listpack.
    pub fn fits_listpack(&self, count: usize, max_len: usize) -> bool {
        count <= self.max_entries && max_len <= self.max_value
    }
}

/// A sorted set. `Value` boxes it; the skiplist is boxed again so that a small (listpack)
/// sorted set does not pay for the skiplist's inline size (a 400-byte box for a one-member
/// zset before, which MEMORY USAGE showed).
pub enum ZSet {
    Listpack(Listpack),
    Skiplist(Box<SortedSet>),
}

/// Renders a score as Redis 7.0's `d2string` does for listpack storage.
pub fn score_to_listpack_text(score: f64, buf: &mut [u8; 32]) -> usize {
    const LIMIT: f64 = 4503599627370496.0; // 2^52
    let text;
    let s: &[u8] = if score > -LIMIT + 1.0 && score < LIMIT && score == (score as i64) as f64 {
        let mut ib: IntBuf = [0; LP_INTBUF_SIZE];
        let n = super::listpack::write_i64(score as i64, &mut ib);
        buf[..n].copy_from_slice(&ib[..n]);
        return n;
    } else {
        text = crate::base::format_double(score);
        text.as_bytes()
    };
    buf[..s.len()].copy_from_slice(s);
    s.len()
}

/// A score stored in a listpack entry (an integer, or a string in `%.17g` form).
pub fn entry_to_score(e: &Entry<'_>) -> f64 {
    match e {
        Entry::Int(i) => *i as f64,
        Entry::Str(s) => crate::base::parse_f64(s).unwrap_or(0.0),
    }
}

/// Redis's ordering of elements: by score, then by member bytes.
pub fn element_cmp(a: (&[u8], f64), b: (&[u8], f64)) -> std::cmp::Ordering {
    a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.0.cmp(b.0))
}

/// Byte position of the member entry of pair `index` of a listpack zset.
fn lp_pair_pos(lp: &Listpack, index: usize) -> Option<usize> {
    lp.seek(2 * index as i64)
}

/// Inserts (member, score) into a listpack zset at its ordered place (zzlInsert).
fn lp_insert(lp: &mut Listpack, member: &[u8], score: f64) {
    let mut ib: IntBuf = [0; LP_INTBUF_SIZE];
    let mut pos = lp.first();
    while let Some(p) = pos {
        let sp = lp.next(p).expect("zset listpack holds pairs");
        let s = entry_to_score(&lp.entry_at(sp));
        let m = lp.entry_at(p);
        if s > score || (s == score && m.as_bytes(&mut ib) > member) {
            break;
        }
        pos = lp.next(sp);
    }
    let at = pos.unwrap_or(lp.bytes_len() - 1);
    lp.insert_at(at, member);
    let score_at = at + lp.entry_len_at(at);
    let mut sb = [0u8; 32];
    let n = score_to_listpack_text(score, &mut sb);
    lp.insert_at(score_at, &sb[..n]);
}

/// Byte position of `member` in a listpack zset.
fn lp_find(lp: &Listpack, member: &[u8]) -> Option<usize> {
    lp.find_from(lp.first()?, member, 1)
}

impl ZSet {
    pub fn new() -> ZSet {
        ZSet::Listpack(Listpack::new())
    }

    /// An empty zset in the encoding Redis's ZADD creates for a first member of
    /// `first_member_len` bytes.
    pub fn new_for(limits: Limits, first_member_len: usize) -> ZSet {
        if limits.max_entries == 0 || first_member_len > limits.max_value {
            ZSet::Skiplist(Box::new(SortedSet::new()))
        } else {
            ZSet::new()
        }
    }

    /// A zset holding `pairs` (distinct members, any order), in the encoding that fits.
    pub fn from_pairs(mut pairs: Vec<(Vec<u8>, f64)>, limits: Limits) -> ZSet {
        let max_len = pairs.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        if limits.fits_listpack(pairs.len(), max_len) {
            pairs.sort_by(|a, b| element_cmp((&a.0, a.1), (&b.0, b.1)));
            let mut lp = Listpack::new();
            let mut sb = [0u8; 32];
            for (m, s) in &pairs {
                lp.push_back(m);
                let n = score_to_listpack_text(*s, &mut sb);
                lp.push_back(&sb[..n]);
            }
            ZSet::Listpack(lp)
        } else {
            let mut ss = SortedSet::new();
            for (m, s) in &pairs {
                ss.insert(m, *s);
            }
            ZSet::Skiplist(Box::new(ss))
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.len() / 2,
            ZSet::Skiplist(s) => s.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Listpack(_) => "listpack",
            ZSet::Skiplist(_) => "skiplist",
        }
    }
    pub fn as_listpack(&self) -> Option<&Listpack> {
        match self {
            ZSet::Listpack(lp) => Some(lp),
            _ => None,
        }
    }
    /// Every (member, score), lowest score first.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (Entry<'_>, f64)> + '_> {
        match self {
            ZSet::Listpack(lp) => {
                let mut it = lp.iter();
                Box::new(std::iter::from_fn(move || {
                    let m = it.next()?;
                    let s = it.next()?;
                    Some((m, entry_to_score(&s)))
                }))
            }
            ZSet::Skiplist(s) => Box::new(s.iter().map(|(m, sc)| (Entry::Str(m), sc))),
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(lp) => {
                let p = lp_find(lp, member)?;
                Some(entry_to_score(&lp.entry_at(lp.next(p)?)))
            }
            ZSet::Skiplist(s) => s.score(member),
        }
    }

    /// Converts a listpack to a skiplist (zsetConvert).
    fn convert_to_skiplist(&mut self) {
        if let ZSet::Listpack(lp) = self {
            let mut ss = SortedSet::new();
            let mut it = lp.iter();
            let mut ib: IntBuf = [0; LP_INTBUF_SIZE];
            while let (Some(m), Some(s)) = (it.next(), it.next()) {
                ss.insert(m.as_bytes(&mut ib), entry_to_score(&s));
            }
            *self = ZSet::Skiplist(Box::new(ss));
        }
    }

    /// Sets `member`'s score, adding it if new (converting to a skiplist when the addition
    /// passes a limit). Returns the previous score. `score` must not be NaN. A score equal
    /// to the current one changes nothing.
    pub fn set(&mut self, member: &[u8], score: f64, limits: Limits) -> Option<f64> {
        if let ZSet::Listpack(lp) = self {
            if let Some(p) = lp_find(lp, member) {
                let sp = lp.next(p).expect("pair");
                let old = entry_to_score(&lp.entry_at(sp));
                if old != score {
                    lp.delete_range_at(p, 2);
                    lp_insert(lp, member, score);
                }
                return Some(old);
            }
            if lp.len() / 2 < limits.max_entries
                && member.len() <= limits.max_value
                && lp.safe_to_add(member.len())
            {
                lp_insert(lp, member, score);
                return None;
            }
            self.convert_to_skiplist();
        }
        match self {
            // Equal scores (0 and -0 included) leave the element as it is, as zsetAdd does.
            ZSet::Skiplist(s) => match s.score(member) {
                Some(old) if old == score => Some(old),
                _ => s.insert_or_update(member, score),
            },
            ZSet::Listpack(_) => unreachable!("converted above"),
        }
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(lp) => {
                let p = lp_find(lp, member)?;
                let old = entry_to_score(&lp.entry_at(lp.next(p)?));
                lp.delete_range_at(p, 2);
                Some(old)
            }
            ZSet::Skiplist(s) => s.remove(member),
        }
    }

    /// 0-based ascending rank of `member`, with its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZSet::Listpack(lp) => {
                let mut it = lp.iter();
                let mut rank = 0;
                while let (Some(m), Some(s)) = (it.next(), it.next()) {
                    if m.eq_bytes(member) {
                        return Some((rank, entry_to_score(&s)));
                    }
                    rank += 1;
                }
                None
            }
            ZSet::Skiplist(s) => {
                let r = s.rank(member)?;
                Some((r, s.score(member)?))
            }
        }
    }

    /// Visits the elements of ascending ranks `start..=end` (clamped), lowest first, or
    /// highest first when `rev`.
    pub fn visit_ranks(&self, start: usize, end: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        let len = self.len();
        if start >= len || start > end {
            return;
        }
        let end = end.min(len - 1);
        let count = end - start + 1;
        match self {
            ZSet::Listpack(lp) => {
                let mut ib: IntBuf = [0; LP_INTBUF_SIZE];
                if rev {
                    let mut it = lp.iter().rev().skip(2 * (len - 1 - end));
                    for _ in 0..count {
                        let s = it.next().expect("pair");
                        let m = it.next().expect("pair");
                        f(m.as_bytes(&mut ib), entry_to_score(&s));
                    }
                } else {
                    let p = lp_pair_pos(lp, start).expect("rank checked");
                    let mut it = lp.iter_at(p, 2 * start);
                    for _ in 0..count {
                        let m = it.next().expect("pair");
                        let s = it.next().expect("pair");
                        f(m.as_bytes(&mut ib), entry_to_score(&s));
                    }
                }
            }
            ZSet::Skiplist(s) => {
                if rev {
                    for (m, sc) in s.iter_rev_from_rank(end).take(count) {
                        f(m, sc);
                    }
                } else {
                    for (m, sc) in s.iter_from_rank(start).take(count) {
                        f(m, sc);
                    }
                }
            }
        }
    }

    /// The element at ascending rank `rank`, copied out.
    pub fn at_rank(&self, rank: usize) -> Option<(Vec<u8>, f64)> {
        let mut out = None;
        self.visit_ranks(rank, rank, false, |m, s| out = Some((m.to_vec(), s)));
        out
    }

    /// Ascending ranks (first, last) of the elements with scores in `r`.
    pub fn score_range_ranks(&self, r: &ScoreRange) -> Option<(usize, usize)> {
        match self {
            ZSet::Listpack(lp) => {
                if !skiplist::score_range_nonempty(r) {
                    return None;
                }
                let mut first = None;
                let mut last = None;
                let mut it = lp.iter();
                let mut rank = 0;
                while let (Some(_), Some(s)) = (it.next(), it.next()) {
                    let s = entry_to_score(&s);
                    if !skiplist::score_lte_max(s, r) {
                        break;
                    }
                    if skiplist::score_gte_min(s, r) {
                        first.get_or_insert(rank);
                        last = Some(rank);
                    }
                    rank += 1;
                }
                Some((first?, last?))
            }
            ZSet::Skiplist(s) => Some((s.first_in_score_range(r)?, s.last_in_score_range(r)?)),
        }
    }

    /// Ascending ranks (first, last) of the elements with members in `r` (equal scores).
    pub fn lex_range_ranks(&self, r: &LexRange) -> Option<(usize, usize)> {
        match self {
            ZSet::Listpack(lp) => {
                if !skiplist::lex_range_nonempty(r) {
                    return None;
                }
                let mut ib: IntBuf = [0; LP_INTBUF_SIZE];
                let mut first = None;
                let mut last = None;
                let mut it = lp.iter();
                let mut rank = 0;
                while let (Some(m), Some(_)) = (it.next(), it.next()) {
                    let m = m.as_bytes(&mut ib);
                    if !skiplist::lex_lte_max(m, &r.max) {
                        break;
                    }
                    if skiplist::lex_gte_min(m, &r.min) {
                        first.get_or_insert(rank);
                        last = Some(rank);
                    }
                    rank += 1;
                }
                Some((first?, last?))
            }
            ZSet::Skiplist(s) => Some((s.first_in_lex_range(r)?, s.last_in_lex_range(r)?)),
        }
    }

    /// Removes ascending ranks `start..=end` (clamped); returns how many went.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        let len = self.len();
        if start >= len || start > end {
            return 0;
        }
        let end = end.min(len - 1);
        match self {
            ZSet::Listpack(lp) => {
                let p = lp_pair_pos(lp, start).expect("rank checked");
                lp.delete_range_at(p, 2 * (end - start + 1)) / 2
            }
            ZSet::Skiplist(s) => s.remove_range_by_rank(start, end),
        }
    }

    /// Removes up to `count` elements from the low end (or the high end when `from_max`),
    /// returning them in pop order (ZPOPMIN/ZPOPMAX/ZMPOP, and later their blocking forms).
    pub fn pop(&mut self, count: usize, from_max: bool) -> Vec<(Vec<u8>, f64)> {
        let len = self.len();
        let n = count.min(len);
        if n == 0 {
            return Vec::new();
        }
        let (start, end) = if from_max { (len - n, len - 1) } else { (0, n - 1) };
        let mut out = Vec::with_capacity(n);
        self.visit_ranks(start, end, from_max, |m, s| out.push((m.to_vec(), s)));
        self.remove_ranks(start, end);
        out
    }

    /// Heap bytes used, roughly (MEMORY USAGE, DEBUG OBJECT).
    pub fn heap_bytes(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.allocated_bytes(),
            ZSet::Skiplist(s) => s.heap_size(),
        }
    }
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::SplitMix64 as Rng;

    const SMALL: Limits = Limits { max_entries: 16, max_value: 8 };

    fn contents(z: &ZSet) -> Vec<(Vec<u8>, f64)> {
        z.iter().map(|(m, s)| (m.to_vec(), s)).collect()
    }

    #[test]
    fn listpack_score_text_follows_d2string() {
        let t = |v: f64| {
            let mut b = [0u8; 32];
            let n = score_to_listpack_text(v, &mut b);
            String::from_utf8(b[..n].to_vec()).unwrap()
        };
        assert_eq!(t(1.0), "1");
        assert_eq!(t(-0.0), "0");
        assert_eq!(t(0.1), "0.10000000000000001");
        assert_eq!(t(4503599627370495.0), "4503599627370495");
        assert_eq!(t(4503599627370496.0), "4503599627370496");
        assert_eq!(t(1e20), "1e+20");
        assert_eq!(t(f64::INFINITY), "inf");
        assert_eq!(t(f64::NEG_INFINITY), "-inf");
    }

    /// Both encodings, driven by the same random operations, agree with a model.
    #[test]
    fn encodings_agree_with_model() {
        let mut rng = Rng::new(7);
        for round in 0..40 {
            let limits =
                if round % 2 == 0 { SMALL } else { Limits { max_entries: 0, max_value: 0 } };
            let mut z = ZSet::new_for(limits, 1);
            let mut model: Vec<(Vec<u8>, f64)> = Vec::new();
            for _ in 0..200 {
                let m = format!("m{}", rng.below(30)).into_bytes();
                let s = (rng.below(7) as f64) - 3.0 + if rng.chance(30) { 0.5 } else { 0.0 };
                match rng.below(4) {
                    0 | 1 => {
                        let old = z.set(&m, s, limits);
                        let pos = model.iter().position(|(x, _)| *x == m);
                        assert_eq!(old, pos.map(|p| model[p].1));
                        match pos {
                            Some(p) => model[p].1 = s,
                            None => model.push((m, s)),
                        }
                    }
                    2 => {
                        let old = z.remove(&m);
                        let pos = model.iter().position(|(x, _)| *x == m);
                        assert_eq!(old, pos.map(|p| model.remove(p).1));
                    }
                    _ => {
                        let n = rng.below(3) as usize;
                        let from_max = rng.chance(50);
                        model.sort_by(|a, b| element_cmp((&a.0, a.1), (&b.0, b.1)));
                        let want: Vec<_> = if from_max {
                            model.iter().rev().take(n).cloned().collect()
                        } else {
                            model.iter().take(n).cloned().collect()
                        };
                        model.retain(|e| !want.contains(e));
                        assert_eq!(z.pop(n, from_max), want);
                    }
                }
                model.sort_by(|a, b| element_cmp((&a.0, a.1), (&b.0, b.1)));
                assert_eq!(contents(&z), model);
                if let Some((m, s)) = model.get(model.len() / 2) {
                    assert_eq!(z.rank(m), Some((model.len() / 2, *s)));
                    assert_eq!(z.score(m), Some(*s));
                }
            }
            let expect = if round % 2 == 0 && model.len() <= 16 {
                ["listpack", "skiplist"]
            } else {
                ["skiplist", "skiplist"]
            };
            assert!(expect.contains(&z.encoding()));
        }
    }

    #[test]
    fn ranges_and_conversion() {
        let mut z = ZSet::new_for(SMALL, 1);
        for i in 0..10 {
            z.set(format!("m{i}").as_bytes(), i as f64, SMALL);
        }
        assert_eq!(z.encoding(), "listpack");
        let r = skiplist::parse_score_range(b"(2", b"5").unwrap();
        assert_eq!(z.score_range_ranks(&r), Some((3, 5)));
        let mut seen = Vec::new();
        z.visit_ranks(3, 5, true, |m, _| seen.push(m.to_vec()));
        assert_eq!(seen, vec![b"m5".to_vec(), b"m4".to_vec(), b"m3".to_vec()]);
        z.set(b"a-very-long-member", 1.0, SMALL);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.score_range_ranks(&r), Some((4, 6)));
        assert_eq!(z.remove_ranks(0, 1), 2);
        assert_eq!(z.len(), 9);
        let back = ZSet::from_pairs(contents(&z), SMALL);
        assert_eq!(back.encoding(), "listpack");
    }
}
