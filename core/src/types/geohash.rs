//! The geohash arithmetic behind the GEO commands, as Redis 7.0 computes it: coordinates
//! become 52-bit interleaved hashes (latitude in the even bits, longitude in the odd ones,
//! over Redis's Web Mercator latitude limits) used as sorted-set scores; a search covers the
//! center's cell and its eight neighbours at a step chosen from the radius; distances are
//! haversine on Redis's earth radius. Everything a reply depends on (which cells are
//! searched, in which order, every float) follows Redis's own steps, so results and their
//! order match redis-server's.

pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
pub const LAT_MIN: f64 = -85.051_128_78;
pub const LAT_MAX: f64 = 85.051_128_78;
/// Bits per coordinate (52-bit hashes).
pub const STEP_MAX: u32 = 26;
pub const EARTH_RADIUS_M: f64 = 6_372_797.560_856;
const MERCATOR_MAX: f64 = 20_037_726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

/// A hash of `step` bits per coordinate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Hash {
    pub bits: u64,
    pub step: u32,
}

impl Hash {
    fn is_zero(self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// The cell a hash stands for.
#[derive(Clone, Copy, Debug, Default)]
pub struct Area {
    pub longitude: Range,
    pub latitude: Range,
}

const WGS84_LONG: Range = Range { min: LONG_MIN, max: LONG_MAX };
const WGS84_LAT: Range = Range { min: LAT_MIN, max: LAT_MAX };

fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// Encodes a point over the given ranges; None outside them or Redis's global limits.
pub fn encode(
    long_range: Range,
    lat_range: Range,
    longitude: f64,
    latitude: f64,
    step: u32,
) -> Option<Hash> {
    if !(LONG_MIN..=LONG_MAX).contains(&longitude) || !(LAT_MIN..=LAT_MAX).contains(&latitude) {
        return None;
    }
    if step > 32 || step == 0 {
        return None;
    }
    if latitude < lat_range.min
        || latitude > lat_range.max
        || longitude < long_range.min
        || longitude > long_range.max
    {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (latitude - lat_range.min) / (lat_range.max - lat_range.min) * scale;
    let long_offset = (longitude - long_range.min) / (long_range.max - long_range.min) * scale;
    let bits = spread(lat_offset as u32) | (spread(long_offset as u32) << 1);
    Some(Hash { bits, step })
}

/// The 52-bit score of a point (GEOADD): None outside the limits.
pub fn encode_wgs84(longitude: f64, latitude: f64) -> Option<u64> {
    encode(WGS84_LONG, WGS84_LAT, longitude, latitude, STEP_MAX).map(align52)
}

/// A hash shifted to 52 bits.
pub fn align52(h: Hash) -> u64 {
    h.bits << (52 - h.step * 2)
}

fn decode(long_range: Range, lat_range: Range, h: Hash) -> Area {
    let lat = squash(h.bits) as f64;
    let long = squash(h.bits >> 1) as f64;
    let scale = (1u64 << h.step) as f64;
    let lat_scale = lat_range.max - lat_range.min;
    let long_scale = long_range.max - long_range.min;
    Area {
        latitude: Range {
            min: lat_range.min + (lat / scale) * lat_scale,
            max: lat_range.min + ((lat + 1.0) / scale) * lat_scale,
        },
        longitude: Range {
            min: long_range.min + (long / scale) * long_scale,
            max: long_range.min + ((long + 1.0) / scale) * long_scale,
        },
    }
}

/// The (longitude, latitude) a score stands for: its cell's center, clamped to the limits.
pub fn decode_score(score: f64) -> (f64, f64) {
    let area = decode(WGS84_LONG, WGS84_LAT, Hash { bits: score as u64, step: STEP_MAX });
    let x = ((area.longitude.min + area.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let y = ((area.latitude.min + area.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (x, y)
}

/// The standard 11-character geohash of a score (GEOHASH): re-encoded over latitude
/// -90..90, the last character always '0' (52 bits fill ten characters and two bits).
pub fn standard_geohash(score: f64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (x, y) = decode_score(score);
    let h =
        encode(Range { min: -180.0, max: 180.0 }, Range { min: -90.0, max: 90.0 }, x, y, STEP_MAX)
            .unwrap_or_default();
    (0..11)
        .map(|i| {
            let idx = if i == 10 { 0 } else { (h.bits >> (52 - (i + 1) * 5)) & 0x1f };
            ALPHABET[idx as usize] as char
        })
        .collect()
}

fn deg_rad(d: f64) -> f64 {
    d * D_R
}

fn rad_deg(r: f64) -> f64 {
    r / D_R
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Haversine distance in meters.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lon1r, lon2r) = (deg_rad(lon1), deg_rad(lon2));
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// What a search covers, sizes already in meters.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// The distance from the center (x1, y1) to (x2, y2) when the point is inside the shape.
pub fn distance_if_inside(shape: Shape, x1: f64, y1: f64, x2: f64, y2: f64) -> Option<f64> {
    match shape {
        Shape::Radius(r) => {
            let d = distance(x1, y1, x2, y2);
            if d > r { None } else { Some(d) }
        }
        Shape::Box { width, height } => {
            if lat_distance(y2, y1) > height / 2.0 {
                return None;
            }
            if distance(x2, y2, x1, y2) > width / 2.0 {
                return None;
            }
            Some(distance(x1, y1, x2, y2))
        }
    }
}

fn estimate_steps(mut range_m: f64, lat: f64) -> u32 {
    if range_m == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_m < MERCATOR_MAX {
        range_m *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u32
}

/// Moves the box one cell along the axis whose interleaved bits `axis` selects (the odd
/// bits for longitude, the even ones for latitude): `d` > 0 forward, < 0 back, 0 not at all.
/// The filler of the other axis's bits makes the carry (or borrow) run through this axis's.
fn move_axis(h: &mut Hash, d: i32, axis: u64) {
    if d == 0 {
        return;
    }
    let mut moved = h.bits & axis;
    let kept = h.bits & !axis;
    let zz = !axis >> (64 - h.step * 2);
    if d > 0 {
        moved = moved.wrapping_add(zz + 1);
    } else {
        moved |= zz;
        moved = moved.wrapping_sub(zz + 1);
    }
    moved &= axis >> (64 - h.step * 2);
    h.bits = moved | kept;
}

fn move_x(h: &mut Hash, d: i32) {
    move_axis(h, d, 0xaaaa_aaaa_aaaa_aaaa);
}

fn move_y(h: &mut Hash, d: i32) {
    move_axis(h, d, 0x5555_5555_5555_5555);
}

fn moved(h: Hash, dx: i32, dy: i32) -> Hash {
    let mut n = h;
    move_x(&mut n, dx);
    move_y(&mut n, dy);
    n
}

/// The cells to scan, in Redis's order: the center's cell, then north, south, east, west,
/// north-east, north-west, south-east, south-west; cells that cannot hold a match are
/// zero (skipped).
pub fn search_cells(center_x: f64, center_y: f64, shape: Shape) -> [Hash; 9] {
    let (half_h, half_w) = match shape {
        Shape::Radius(r) => (r, r),
        Shape::Box { width, height } => (height / 2.0, width / 2.0),
    };
    let lat_delta = rad_deg(half_h / EARTH_RADIUS_M);
    let long_delta_top = rad_deg(half_w / EARTH_RADIUS_M / deg_rad(center_y + lat_delta).cos());
    let long_delta_bottom = rad_deg(half_w / EARTH_RADIUS_M / deg_rad(center_y - lat_delta).cos());
    let southern = center_y < 0.0;
    let min_lon = if southern { center_x - long_delta_bottom } else { center_x - long_delta_top };
    let max_lon = if southern { center_x + long_delta_bottom } else { center_x + long_delta_top };
    let min_lat = center_y - lat_delta;
    let max_lat = center_y + lat_delta;

    let radius_m = match shape {
        Shape::Radius(r) => r,
        Shape::Box { width, height } => {
            ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
        }
    };
    let mut steps = estimate_steps(radius_m, center_y);
    let at = |steps: u32| {
        let h = encode(WGS84_LONG, WGS84_LAT, center_x, center_y, steps)
            .unwrap_or(Hash { bits: 0, step: steps });
        let n = [
            moved(h, 0, 1),   // north
            moved(h, 0, -1),  // south
            moved(h, 1, 0),   // east
            moved(h, -1, 0),  // west
            moved(h, 1, 1),   // north-east
            moved(h, -1, 1),  // north-west
            moved(h, 1, -1),  // south-east
            moved(h, -1, -1), // south-west
        ];
        (h, n)
    };
    let (mut hash, mut nb) = at(steps);
    let north = decode(WGS84_LONG, WGS84_LAT, nb[0]);
    let south = decode(WGS84_LONG, WGS84_LAT, nb[1]);
    let east = decode(WGS84_LONG, WGS84_LAT, nb[2]);
    let west = decode(WGS84_LONG, WGS84_LAT, nb[3]);
    let decrease = north.latitude.max < max_lat
        || south.latitude.min > min_lat
        || east.longitude.max < max_lon
        || west.longitude.min > min_lon;
    if steps > 1 && decrease {
        steps -= 1;
        (hash, nb) = at(steps);
    }
    let area = decode(WGS84_LONG, WGS84_LAT, hash);
    let zero = Hash::default();
    if steps >= 2 {
        if area.latitude.min < min_lat {
            nb[1] = zero;
            nb[7] = zero;
            nb[6] = zero;
        }
        if area.latitude.max > max_lat {
            nb[0] = zero;
            nb[4] = zero;
            nb[5] = zero;
        }
        if area.longitude.min < min_lon {
            nb[3] = zero;
            nb[7] = zero;
            nb[5] = zero;
        }
        if area.longitude.max > max_lon {
            nb[2] = zero;
            nb[6] = zero;
            nb[4] = zero;
        }
    }
    [hash, nb[0], nb[1], nb[2], nb[3], nb[4], nb[5], nb[6], nb[7]]
}

/// The cells of `search_cells` to scan, as score intervals [min, max), in order: zero cells
/// dropped, and a cell equal to the last one scanned skipped (huge radii make neighbours
/// coincide), as Redis does.
pub fn score_ranges(cells: &[Hash; 9]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut last: Option<usize> = None;
    for (i, c) in cells.iter().enumerate() {
        if c.is_zero() {
            continue;
        }
        // (Redis compares with the last processed cell only once one after the first was.)
        if let Some(l) = last {
            if l != 0 && cells[l] == *c {
                continue;
            }
        }
        let min = align52(*c);
        let max = align52(Hash { bits: c.bits + 1, step: c.step });
        out.push((min, max));
        last = Some(i);
    }
    out
}

/// A coordinate as Redis's `%.17Lf` with trailing zeros (and a trailing point) removed.
pub fn format_coordinate(v: f64) -> String {
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palermo_as_redis() {
        // GEOADD g 13.361389 38.115556 Palermo stores this score; GEOPOS and GEOHASH give
        // these texts (from redis-server 7.0).
        let s = encode_wgs84(13.361389, 38.115556).unwrap();
        assert_eq!(s, 3479099956230698);
        let (x, y) = decode_score(s as f64);
        assert_eq!(format_coordinate(x), "13.36138933897018433");
        assert_eq!(format_coordinate(y), "38.11555639549629859");
        assert_eq!(standard_geohash(s as f64), "sqc8b49rny0");
        let c = encode_wgs84(15.087269, 37.502669).unwrap();
        let (cx, cy) = decode_score(c as f64);
        assert_eq!(format!("{:.4}", distance(x, y, cx, cy) / 1000.0), "166.2742");
    }

    #[test]
    fn limits_refused() {
        assert!(encode_wgs84(180.1, 0.0).is_none());
        assert!(encode_wgs84(0.0, 85.06).is_none());
        assert!(encode_wgs84(-180.0, -85.05112878).is_some());
    }

    #[test]
    fn interleave_roundtrip() {
        for v in [0u32, 1, 0xdead_beef, u32::MAX] {
            assert_eq!(squash(spread(v)), v);
        }
    }
}
