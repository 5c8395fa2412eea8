//! GEO commands: GEOADD, GEODIST, GEOHASH, GEOPOS, GEORADIUS[_RO],
//! GEORADIUSBYMEMBER[_RO], GEOSEARCH, GEOSEARCHSTORE. A geo index is a sorted set whose
//! scores are 52-bit geohashes (`tine_core::types::geohash`), so GEOADD is ZADD with
//! computed scores (and is propagated as that ZADD, as Redis does) and searches scan score
//! ranges of the zset. Argument parsing follows Redis 7.0's order, so the first bad argument
//! gives the same error; replies (order, `%.4f` distances, `%.17Lf` coordinates) match it.

use super::{Argv, CmdError, CmdResult, err};
use crate::commands::Ctx;
use crate::config::custom::notify;
use crate::engine::session::Session;
use std::cmp::Ordering;
use tine_core::base::{self, parse_f64, parse_i64};
use tine_core::keyspace::Value;
use tine_core::protocol::Resp;
use tine_core::types::geohash::{self, Shape};
use tine_core::types::skiplist::ScoreRange;
use tine_core::types::zset::{Limits, ZSet};

const DECODE_MEMBER: CmdError = CmdError::new("ERR", "ERR could not decode requested zset member");

fn zset_of(v: Option<&Value>) -> Result<Option<&ZSet>, CmdError> {
    match v {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

fn parse_double(arg: &[u8], e: CmdError) -> Result<f64, CmdError> {
    parse_f64(arg).ok_or(e)
}

/// A longitude, latitude pair within Redis's limits, or its error.
fn parse_lonlat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let x = parse_double(lon, err::NOT_FLOAT)?;
    let y = parse_double(lat, err::NOT_FLOAT)?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&x)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&y)
    {
        return Err(CmdError::owned(
            "ERR",
            format!("ERR invalid longitude,latitude pair {x:.6},{y:.6}"),
        ));
    }
    Ok((x, y))
}

/// Meters per unit.
fn parse_unit(arg: &[u8]) -> Result<f64, CmdError> {
    match base::lower(arg).as_str() {
        "m" => Ok(1.0),
        "km" => Ok(1000.0),
        "ft" => Ok(0.3048),
        "mi" => Ok(1609.34),
        _ => Err(CmdError::new("ERR", "ERR unsupported unit provided. please use M, KM, FT, MI")),
    }
}

/// `radius unit`: (radius, meters per unit).
fn parse_distance(radius: &[u8], unit: &[u8]) -> Result<(f64, f64), CmdError> {
    let r = parse_double(radius, CmdError::new("ERR", "ERR need numeric radius"))?;
    if r < 0.0 {
        return Err(CmdError::new("ERR", "ERR radius cannot be negative"));
    }
    Ok((r, parse_unit(unit)?))
}

/// A reply of a coordinate: a bulk string in RESP2, a double in RESP3, both as `%.17Lf`
/// without trailing zeros.
fn add_coordinate(c: &mut Session, v: f64) {
    let text = geohash::format_coordinate(v);
    if c.resp == Resp::V3 {
        if let Some(o) = c.out() {
            o.push(b',');
            o.extend_from_slice(text.as_bytes());
            o.extend_from_slice(b"\r\n");
        }
    } else {
        c.add_bulk(text.as_bytes());
    }
}

fn add_distance(c: &mut Session, d: f64) {
    c.add_bulk(format!("{d:.4}").as_bytes());
}

/// GEOADD key [NX|XX] [CH] longitude latitude member ...: ZADD with geohash scores.
pub(crate) fn geoadd(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let (mut nx, mut xx) = (false, false);
    let mut at = 2;
    while at < argv.len() {
        match base::lower(&argv[at]).as_str() {
            "nx" => nx = true,
            "xx" => xx = true,
            "ch" => {}
            _ => break,
        }
        at += 1;
    }
    if (argv.len() - at) % 3 != 0 || (nx && xx) {
        return Err(err::SYNTAX);
    }
    let mut zargv: Vec<Vec<u8>> = Vec::with_capacity(at + (argv.len() - at) / 3 * 2);
    zargv.push(b"zadd".to_vec());
    zargv.extend(argv[1..at].iter().cloned());
    for t in argv[at..].chunks(3) {
        let (x, y) = parse_lonlat(&t[0], &t[1])?;
        let score = geohash::encode_wgs84(x, y).unwrap_or(0);
        zargv.push(score.to_string().into_bytes());
        zargv.push(t[2].clone());
    }
    let before = srv.data.dirty;
    super::zset::zadd(srv, c, &zargv)?;
    if srv.data.dirty != before {
        srv.propagate_as(zargv);
    }
    Ok(())
}

/// GEODIST key member1 member2 [unit]
pub(crate) fn geodist(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut to_meter = 1.0;
    if argv.len() == 5 {
        to_meter = parse_unit(&argv[4])?;
    } else if argv.len() > 5 {
        return Err(err::SYNTAX);
    }
    let Some(z) = zset_of(srv.lookup_read(c.db, &argv[1]))? else {
        c.add_null();
        return Ok(());
    };
    match (z.score(&argv[2]), z.score(&argv[3])) {
        (Some(a), Some(b)) => {
            let (x1, y1) = geohash::decode_score(a);
            let (x2, y2) = geohash::decode_score(b);
            add_distance(c, geohash::distance(x1, y1, x2, y2) / to_meter);
        }
        _ => c.add_null(),
    }
    Ok(())
}

/// GEOHASH key [member ...]
pub(crate) fn geohash(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let z = zset_of(srv.lookup_read(c.db, &argv[1]))?;
    let hashes: Vec<Option<String>> = argv[2..]
        .iter()
        .map(|m| z.and_then(|z| z.score(m)).map(geohash::standard_geohash))
        .collect();
    c.add_array(hashes.len());
    for h in hashes {
        match h {
            Some(h) => c.add_bulk(h.as_bytes()),
            None => c.add_null(),
        }
    }
    Ok(())
}

/// GEOPOS key [member ...]
pub(crate) fn geopos(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let z = zset_of(srv.lookup_read(c.db, &argv[1]))?;
    let scores: Vec<Option<f64>> = argv[2..].iter().map(|m| z.and_then(|z| z.score(m))).collect();
    c.add_array(scores.len());
    for s in scores {
        match s {
            Some(s) => {
                let (x, y) = geohash::decode_score(s);
                c.add_array(2);
                add_coordinate(c, x);
                add_coordinate(c, y);
            }
            None => c.add_null_array(),
        }
    }
    Ok(())
}

/// Which command runs the search (Redis's flags of georadiusGeneric).
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Radius { store: bool },
    ByMember { store: bool },
    Search { store: bool },
}

pub(crate) fn georadius(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    search(srv, c, argv, Kind::Radius { store: true })
}
pub(crate) fn georadius_ro(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    search(srv, c, argv, Kind::Radius { store: false })
}
pub(crate) fn georadiusbymember(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    search(srv, c, argv, Kind::ByMember { store: true })
}
pub(crate) fn georadiusbymember_ro(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    search(srv, c, argv, Kind::ByMember { store: false })
}
pub(crate) fn geosearch(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    search(srv, c, argv, Kind::Search { store: false })
}
pub(crate) fn geosearchstore(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    search(srv, c, argv, Kind::Search { store: true })
}

#[derive(Clone, Copy, PartialEq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// One match.
struct Point {
    member: Vec<u8>,
    score: f64,
    dist: f64,
    x: f64,
    y: f64,
}

/// The matches of `shape` around (x, y) in `z`, in Redis's scan order; at most `limit`
/// (0: all) when ANY is given.
fn members_in_shape(z: &ZSet, x: f64, y: f64, shape: Shape, limit: usize) -> Vec<Point> {
    let cells = geohash::search_cells(x, y, shape);
    let mut out = Vec::new();
    for (min, max) in geohash::score_ranges(&cells) {
        if limit != 0 && out.len() >= limit {
            break;
        }
        let r = ScoreRange {
            min: min as f64,
            min_exclusive: false,
            max: max as f64,
            max_exclusive: true,
        };
        let Some((first, last)) = z.score_range_ranks(&r) else {
            continue;
        };
        let mut stop = false;
        z.visit_ranks(first, last, false, |m, s| {
            if stop {
                return;
            }
            let (px, py) = geohash::decode_score(s);
            if let Some(dist) = geohash::distance_if_inside(shape, x, y, px, py) {
                out.push(Point { member: m.to_vec(), score: s, dist, x: px, y: py });
                if limit != 0 && out.len() >= limit {
                    stop = true;
                }
            }
        });
    }
    out
}

fn search(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv, kind: Kind) -> CmdResult {
    let src_index = if matches!(kind, Kind::Search { store: true }) { 2 } else { 1 };
    // The source is looked up first (WRONGTYPE before anything else), and copied out only
    // for the search below.
    let db = c.db;
    let exists = zset_of(srv.lookup_read(db, &argv[src_index]))?.is_some();
    let mut center: Option<(f64, f64)> = None;
    let mut shape_m: Option<(Shape, f64)> = None; // (shape in units, meters per unit)
    let mut storekey: Option<&[u8]> = None;
    let mut storedist = false;
    let base_args;
    match kind {
        Kind::Radius { .. } => {
            base_args = 6;
            center = Some(parse_lonlat(&argv[2], &argv[3])?);
            let (r, conv) = parse_distance(&argv[4], &argv[5])?;
            shape_m = Some((Shape::Radius(r), conv));
        }
        Kind::ByMember { .. } => {
            base_args = 5;
            if exists {
                let z = zset_of(srv.data.keyspace[db].peek(&argv[src_index]))?.expect("exists");
                let s = z.score(&argv[2]).ok_or(DECODE_MEMBER)?;
                center = Some(geohash::decode_score(s));
                let (r, conv) = parse_distance(&argv[3], &argv[4])?;
                shape_m = Some((Shape::Radius(r), conv));
            }
        }
        Kind::Search { store } => {
            base_args = if store { 3 } else { 2 };
            if store {
                storekey = Some(&argv[1]);
            }
        }
    }
    let is_search = matches!(kind, Kind::Search { .. });
    let nostore = matches!(kind, Kind::Radius { store: false } | Kind::ByMember { store: false });
    let (mut withdist, mut withhash, mut withcoord) = (false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut any = false;
    let mut count: i64 = 0;
    let remaining = argv.len().saturating_sub(base_args);
    let mut i = 0;
    while i < remaining {
        let arg = base::lower(&argv[base_args + i]);
        let cur = i;
        let next = |k: usize| &argv[base_args + cur + k];
        match arg.as_str() {
            "withdist" => withdist = true,
            "withhash" => withhash = true,
            "withcoord" => withcoord = true,
            "any" => any = true,
            "asc" => sort = Sort::Asc,
            "desc" => sort = Sort::Desc,
            "count" if i + 1 < remaining => {
                count = parse_i64(next(1)).ok_or(err::NOT_INTEGER)?;
                if count <= 0 {
                    return Err(CmdError::new("ERR", "ERR COUNT must be > 0"));
                }
                i += 1;
            }
            "store" | "storedist" if i + 1 < remaining && !nostore && !is_search => {
                storekey = Some(next(1));
                storedist = arg == "storedist";
                i += 1;
            }
            "storedist" if matches!(kind, Kind::Search { store: true }) => storedist = true,
            "frommember" if i + 1 < remaining && is_search && !fromloc => {
                if exists {
                    let z = zset_of(srv.data.keyspace[db].peek(&argv[src_index]))?.expect("exists");
                    let s = z.score(next(1)).ok_or(DECODE_MEMBER)?;
                    center = Some(geohash::decode_score(s));
                }
                frommember = true;
                i += 1;
            }
            "fromlonlat" if i + 2 < remaining && is_search && !frommember => {
                center = Some(parse_lonlat(next(1), next(2))?);
                fromloc = true;
                i += 2;
            }
            "byradius" if i + 2 < remaining && is_search && !bybox => {
                let (r, conv) = parse_distance(next(1), next(2))?;
                shape_m = Some((Shape::Radius(r), conv));
                byradius = true;
                i += 2;
            }
            "bybox" if i + 3 < remaining && is_search && !byradius => {
                let w = parse_double(next(1), CmdError::new("ERR", "ERR need numeric width"))?;
                let h = parse_double(next(2), CmdError::new("ERR", "ERR need numeric height"))?;
                if h < 0.0 || w < 0.0 {
                    return Err(CmdError::new("ERR", "ERR height or width cannot be negative"));
                }
                let conv = parse_unit(next(3))?;
                shape_m = Some((Shape::Box { width: w, height: h }, conv));
                bybox = true;
                i += 3;
            }
            _ => return Err(err::SYNTAX),
        }
        i += 1;
    }
    if storekey.is_some() && (withdist || withhash || withcoord) {
        let who = if is_search { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return Err(CmdError::owned(
            "ERR",
            format!("ERR {who} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
        ));
    }
    if is_search && !(frommember || fromloc) {
        return Err(CmdError::err_echo(
            "exactly one of FROMMEMBER or FROMLONLAT can be specified for ",
            &argv[0],
            None,
            "",
        ));
    }
    if is_search && !(byradius || bybox) {
        return Err(CmdError::err_echo(
            "exactly one of BYRADIUS and BYBOX can be specified for ",
            &argv[0],
            None,
            "",
        ));
    }
    if any && count == 0 {
        return Err(CmdError::new("ERR", "ERR the ANY argument requires COUNT argument"));
    }
    if !exists {
        match storekey {
            Some(dst) => {
                if srv.data.keyspace.delete(db, dst) {
                    srv.notify(notify::GENERIC, "del", dst, db);
                    srv.data.dirty += 1;
                }
                c.add_int(0);
            }
            None => c.add_array(0),
        }
        return Ok(());
    }
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let (center, (shape, conv)) = (center.expect("parsed"), shape_m.expect("parsed"));
    let shape_meters = match shape {
        Shape::Radius(r) => Shape::Radius(r * conv),
        Shape::Box { width, height } => Shape::Box { width: width * conv, height: height * conv },
    };
    let z = zset_of(srv.data.keyspace[db].peek(&argv[src_index]))?.expect("exists");
    let limit = if any { count as usize } else { 0 };
    let mut points = members_in_shape(z, center.0, center.1, shape_meters, limit);
    if points.is_empty() && storekey.is_none() {
        c.add_array(0);
        return Ok(());
    }
    let returned = if count == 0 { points.len() } else { points.len().min(count as usize) };
    if sort != Sort::None {
        let cmp = |a: &Point, b: &Point| {
            let o = a.dist.partial_cmp(&b.dist).unwrap_or(Ordering::Equal);
            if sort == Sort::Desc { o.reverse() } else { o }
        };
        if returned == points.len() {
            // Redis's qsort (glibc's, a merge sort: stable).
            points.sort_by(cmp);
        } else {
            // Redis sorts only the first `returned` with its partial quicksort; equal
            // distances come out in that algorithm's order.
            let n = points.len();
            partial_qsort(&mut points, 0, n, 0, returned - 1, &cmp);
        }
    }
    points.truncate(returned);
    for p in &mut points {
        p.dist /= conv;
    }
    match storekey {
        None => {
            let options = withdist as usize + withhash as usize + withcoord as usize;
            c.add_array(points.len());
            for p in &points {
                if options > 0 {
                    c.add_array(options + 1);
                }
                c.add_bulk(&p.member);
                if withdist {
                    add_distance(c, p.dist);
                }
                if withhash {
                    c.add_int(p.score as i64);
                }
                if withcoord {
                    c.add_array(2);
                    add_coordinate(c, p.x);
                    add_coordinate(c, p.y);
                }
            }
        }
        Some(dst) => {
            let n = points.len();
            if n > 0 {
                let pairs: Vec<(Vec<u8>, f64)> = points
                    .into_iter()
                    .map(|p| (p.member, if storedist { p.dist } else { p.score }))
                    .collect();
                let limits = Limits {
                    max_entries: srv.data.config.zset_max_listpack_entries.max(0) as usize,
                    max_value: srv.data.config.zset_max_listpack_value.max(0) as usize,
                };
                let z = ZSet::from_pairs(pairs, limits);
                srv.data.keyspace.set(db, dst, Value::ZSet(Box::new(z)), false);
                let event = if is_search { "geosearchstore" } else { "georadiusstore" };
                srv.notify(notify::ZSET, event, dst, db);
                srv.data.dirty += n as u64;
            } else if srv.data.keyspace.delete(db, dst) {
                srv.notify(notify::GENERIC, "del", dst, db);
                srv.data.dirty += 1;
            }
            c.add_int(n as i64);
        }
    }
    Ok(())
}

/// A partial quicksort in the order of Redis 7.0's pqsort (a BSD quicksort: median-of-three
/// pivots, ninther above 40 elements, equal elements gathered at both ends, insertion sort
/// under 7 elements; 7.0's has no switch to insertion sort after a pass without swaps) that
/// recurses only into the parts overlapping positions `lr..=rr`. Only the order of equal elements depends on following
/// it exactly. Sorts `v[a..a + n]`.
fn partial_qsort<T>(
    v: &mut [T],
    mut a: usize,
    mut n: usize,
    lr: usize,
    rr: usize,
    cmp: &impl Fn(&T, &T) -> Ordering,
) {
    let insertion = |v: &mut [T], a: usize, n: usize| {
        for m in a + 1..a + n {
            let mut l = m;
            while l > a && cmp(&v[l - 1], &v[l]) == Ordering::Greater {
                v.swap(l, l - 1);
                l -= 1;
            }
        }
    };
    let med3 = |v: &[T], x: usize, y: usize, z: usize| {
        if cmp(&v[x], &v[y]) == Ordering::Less {
            if cmp(&v[y], &v[z]) == Ordering::Less {
                y
            } else if cmp(&v[x], &v[z]) == Ordering::Less {
                z
            } else {
                x
            }
        } else if cmp(&v[y], &v[z]) == Ordering::Greater {
            y
        } else if cmp(&v[x], &v[z]) == Ordering::Less {
            x
        } else {
            z
        }
    };
    let vecswap = |v: &mut [T], x: usize, y: usize, k: usize| {
        for i in 0..k {
            v.swap(x + i, y + i);
        }
    };
    let overlaps = |first: usize, last: usize| !(rr < first || lr > last);
    loop {
        if n < 7 {
            insertion(v, a, n);
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d);
                pm = med3(v, pm - d, pm, pm + d);
                pn = med3(v, pn - 2 * d, pn - d, pn);
            }
            pm = med3(v, pl, pm, pn);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        loop {
            while pb <= pc {
                match cmp(&v[pb], &v[a]) {
                    Ordering::Greater => break,
                    Ordering::Equal => {
                        v.swap(pa, pb);
                        pa += 1;
                    }
                    Ordering::Less => {}
                }
                pb += 1;
            }
            while pb <= pc {
                match cmp(&v[pc], &v[a]) {
                    Ordering::Less => break,
                    Ordering::Equal => {
                        v.swap(pc, pd);
                        pd -= 1;
                    }
                    Ordering::Greater => {}
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        vecswap(v, a, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        vecswap(v, pb, pn - r, r);
        let r = pb - pa;
        if r > 1 && overlaps(a, a + r - 1) {
            partial_qsort(v, a, r, lr, rr, cmp);
        }
        let r = pd - pc;
        if r > 1 && overlaps(pn - r, pn - 1) {
            a = pn - r;
            n = r;
            continue;
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_qsort_sorts_the_requested_prefix() {
        let mut seed = 7u64;
        for n in [1usize, 5, 7, 8, 40, 41, 200] {
            let mut v: Vec<u32> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    ((seed >> 33) % 50) as u32
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort();
            let k = n.div_ceil(3);
            partial_qsort(&mut v, 0, n, 0, k - 1, &|a: &u32, b: &u32| a.cmp(b));
            assert_eq!(v[..k], sorted[..k], "n={n}");
        }
    }

    #[test]
    fn partial_qsort_of_equals_puts_the_last_first() {
        // What redis-server does with equal distances (all members at one point): the pivot,
        // the last element, is swapped to the front and nothing else moves.
        let mut v: Vec<(u32, usize)> = (0..100).map(|i| (0, i)).collect();
        partial_qsort(&mut v, 0, 100, 0, 2, &|a: &(u32, usize), b: &(u32, usize)| a.0.cmp(&b.0));
        assert_eq!(v[0].1, 99);
        assert_eq!(v[1].1, 1);
        assert_eq!(v[99].1, 0);
    }
}
