//! GEO commands against the real thing: seeded random points (clustered, so searches find
//! several, and some at the latitude and longitude limits) added on tine-server and
//! redis-server, then random GEOPOS / GEODIST / GEOHASH / GEORADIUS[BYMEMBER][_RO] /
//! GEOSEARCH[STORE] with every option, bad arguments included, in RESP2 and RESP3. Replies
//! are compared byte for byte (order of unsorted results, `%.4f` distances and `%.17Lf`
//! coordinates included), and the zsets STORE wrote, with their scores.
//!
//! Replay a run with `TINE_SEED=<seed> cargo nextest run --test geo` (`TINE_STEPS=<n>`).

mod common;

use common::{DIFF_ARGS, Raw, Rng, seed, start_pair, steps};

const MEMBERS: usize = 40;

/// A uniform float in [lo, hi) printed with up to 6 decimals.
fn float(r: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (r.below(1 << 30) as f64 / (1u64 << 30) as f64) * (hi - lo)
}

struct Gen {
    r: Rng,
    /// Cluster centers.
    centers: Vec<(f64, f64)>,
}

impl Gen {
    fn point(&mut self) -> (String, String) {
        let r = &mut self.r;
        match r.below(20) {
            // Exactly a cluster's center: many members at one point, so equal distances, whose
            // order under COUNT is Redis's partial quicksort's.
            2..=4 => {
                let (cx, cy) = self.centers[r.below(self.centers.len() as u64) as usize];
                (format!("{cx:.6}"), format!("{cy:.6}"))
            }
            0 => (
                r.pick(&["180", "-180", "0"]).into(),
                r.pick(&["85.05112878", "-85.05112878", "0"]).into(),
            ),
            1 => {
                (format!("{:.6}", float(r, -180.0, 180.0)), format!("{:.6}", float(r, -85.0, 85.0)))
            }
            _ => {
                let (cx, cy) = self.centers[r.below(self.centers.len() as u64) as usize];
                let spread = [0.01, 0.5, 3.0][r.below(3) as usize];
                let x = (cx + float(r, -spread, spread)).clamp(-180.0, 180.0);
                let y = (cy + float(r, -spread, spread)).clamp(-85.0, 85.0);
                (format!("{x:.6}"), format!("{y:.6}"))
            }
        }
    }

    fn member(&mut self) -> String {
        format!("m{}", self.r.below(MEMBERS as u64 + 3))
    }

    fn unit(&mut self) -> String {
        self.r.pick(&["m", "km", "KM", "mi", "ft", "yd"]).into()
    }

    fn radius(&mut self, unit: &str) -> String {
        let r = &mut self.r;
        match r.below(15) {
            0 => r.pick(&["-1", "abc", "0", "inf"]).into(),
            1 => "20000".into(),
            _ => {
                let km = [1.0, 50.0, 300.0, 1500.0][r.below(4) as usize] * float(r, 0.1, 1.0);
                let v = match unit {
                    "m" => km * 1000.0,
                    "ft" => km * 3280.0,
                    _ => km,
                };
                format!("{v:.3}")
            }
        }
    }

    fn center(&mut self) -> (String, String) {
        if self.r.chance(5) {
            return (
                self.r.pick(&["181", "x", "10"]).into(),
                self.r.pick(&["86", "1", "y"]).into(),
            );
        }
        self.point()
    }

    fn options(&mut self, v: &mut Vec<String>, store: bool) {
        let r = &mut self.r;
        for _ in 0..r.below(4) {
            match r.below(10) {
                0 => v.push("WITHDIST".into()),
                1 => v.push("WITHCOORD".into()),
                2 => v.push("WITHHASH".into()),
                3 => v.push("ASC".into()),
                4 => v.push("DESC".into()),
                5 | 6 => {
                    v.push("COUNT".into());
                    v.push(r.pick(&["1", "3", "10", "0", "x"]).into());
                    if r.chance(30) {
                        v.push("ANY".into());
                    }
                }
                7 if store => {
                    v.push(r.pick(&["STORE", "STOREDIST"]).into());
                    v.push("dst".into());
                }
                8 => v.push(r.pick(&["ANY", "bogus"]).into()),
                _ => {}
            }
        }
    }

    fn shape(&mut self, v: &mut Vec<String>) {
        if self.r.chance(50) {
            let u = self.unit();
            v.push("BYRADIUS".into());
            v.push(self.radius(&u));
            v.push(u);
        } else {
            let u = self.unit();
            v.push("BYBOX".into());
            v.push(self.radius(&u));
            v.push(self.radius(&u));
            v.push(u);
        }
    }

    fn from(&mut self, v: &mut Vec<String>) {
        if self.r.chance(50) {
            v.push("FROMMEMBER".into());
            v.push(self.member());
        } else {
            let (x, y) = self.center();
            v.extend(["FROMLONLAT".to_string(), x, y]);
        }
    }

    fn command(&mut self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        let key = || "g".to_string();
        match self.r.below(22) {
            0..=3 => {
                v.extend(["GEOADD".to_string(), key()]);
                for _ in 0..self.r.below(3) {
                    v.push(self.r.pick(&["NX", "XX", "CH", "ch"]).into());
                }
                for _ in 0..1 + self.r.below(3) {
                    let (x, y) = if self.r.chance(5) { self.center() } else { self.point() };
                    v.extend([x, y, self.member()]);
                }
            }
            4 => {
                v.extend(["GEOPOS".to_string(), key()]);
                for _ in 0..self.r.below(4) {
                    v.push(self.member());
                }
            }
            5 => {
                v.extend(["GEOHASH".to_string(), key()]);
                for _ in 0..self.r.below(4) {
                    v.push(self.member());
                }
            }
            6 | 7 => {
                v.extend(["GEODIST".to_string(), key(), self.member(), self.member()]);
                if self.r.chance(70) {
                    v.push(self.unit());
                }
            }
            8..=10 => {
                v.push(self.r.pick(&["GEORADIUS", "GEORADIUS_RO"]).into());
                v.push(key());
                let (x, y) = self.center();
                let u = self.unit();
                v.extend([x, y, self.radius(&u), u]);
                let store = v[0] == "GEORADIUS";
                self.options(&mut v, store);
            }
            11 | 12 => {
                v.push(self.r.pick(&["GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO"]).into());
                v.push(if self.r.chance(10) { "nokey".into() } else { key() });
                let u = self.unit();
                v.extend([self.member(), self.radius(&u), u]);
                let store = v[0] == "GEORADIUSBYMEMBER";
                self.options(&mut v, store);
            }
            13..=16 => {
                v.extend([
                    "GEOSEARCH".to_string(),
                    if self.r.chance(5) { "nokey".into() } else { key() },
                ]);
                if self.r.chance(50) {
                    self.from(&mut v);
                    self.shape(&mut v);
                } else {
                    self.shape(&mut v);
                    self.from(&mut v);
                }
                self.options(&mut v, false);
            }
            17..=19 => {
                v.extend(["GEOSEARCHSTORE".to_string(), "dst".into(), key()]);
                self.from(&mut v);
                self.shape(&mut v);
                self.options(&mut v, false);
                if self.r.chance(40) {
                    v.push("STOREDIST".into());
                }
            }
            20 => v.extend(["ZREM".to_string(), key(), self.member()]),
            _ => v.extend([
                "ZRANGE".to_string(),
                "dst".into(),
                "0".into(),
                "-1".into(),
                "WITHSCORES".into(),
            ]),
        }
        v
    }
}

fn run(t: &mut Raw, rd: &mut Raw, seed: u64, steps: usize, resp3: bool) {
    if resp3 {
        t.cmd(&["HELLO", "3"]);
        rd.cmd(&["HELLO", "3"]);
    }
    let mut r = Rng::new(seed);
    let centers =
        (0..4).map(|_| (float(&mut r, -179.0, 179.0), float(&mut r, -84.0, 84.0))).collect();
    let mut g = Gen { r, centers };
    let mut found = 0;
    for step in 0..steps {
        let cmd = g.command();
        let a: Vec<&str> = cmd.iter().map(|s| s.as_str()).collect();
        if std::env::var("TINE_TRACE").is_ok() {
            eprintln!("{step}: {a:?}");
        }
        let (x, y) = (t.cmd_str(&a), rd.cmd_str(&a));
        assert_eq!(
            x, y,
            "seed {seed} step {step}: reply to {a:?} differs (left: tine, right: redis)"
        );
        if a[0].starts_with("GEOSEARCH") || a[0].starts_with("GEORADIUS") {
            found += (x.starts_with('*') && !x.starts_with("*0")
                || x.starts_with(":") && x != ":0\r\n") as usize;
        }
    }
    println!("{found} searches found something");
    // The generator must make searches that find something, or the comparison proves little.
    assert!(steps < 300 || found > steps / 40, "only {found} searches found anything");
    let all = ["ZRANGE", "g", "0", "-1", "WITHSCORES"];
    common::assert_same(t, rd, &all);
    common::assert_same(t, rd, &["DEBUG", "DIGEST"]);
}

#[test]
fn differential_resp2() {
    let Some((ours, real)) = start_pair(DIFF_ARGS) else {
        return;
    };
    let seed = seed();
    println!("seed {seed}");
    run(&mut ours.raw(), &mut real.raw(), seed, steps(800), false);
}

#[test]
fn differential_resp3() {
    let Some((ours, real)) = start_pair(DIFF_ARGS) else {
        return;
    };
    let seed = seed();
    println!("seed {seed}");
    run(&mut ours.raw(), &mut real.raw(), seed, steps(800), true);
}

#[test]
fn fixed_seeds() {
    if std::env::var("TINE_SEED").is_ok() {
        return;
    }
    for seed in [1u64, 2, 3] {
        let Some((ours, real)) = start_pair(DIFF_ARGS) else {
            return;
        };
        run(&mut ours.raw(), &mut real.raw(), seed, 600, seed == 2);
    }
}

/// GEOADD is propagated as the ZADD it becomes (what the AOF gets), and the texts of
/// documented examples.
#[test]
fn edge_cases() {
    let Some((ours, real)) = start_pair(DIFF_ARGS) else {
        return;
    };
    let (mut t, mut r) = (ours.raw(), real.raw());
    let cases: &[&[&str]] = &[
        &[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
        &["GEODIST", "Sicily", "Palermo", "Catania"],
        &["GEORADIUS", "Sicily", "15", "37", "100", "km"],
        &["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH"],
        &["GEOHASH", "Sicily", "Palermo", "Catania", "nope"],
        &["GEOPOS", "Sicily", "Palermo", "NonExisting"],
        &["GEOADD", "Sicily", "NX", "XX", "1", "1", "x"],
        &["GEOADD", "Sicily", "1", "1"],
        &["GEOADD", "Sicily", "CH", "13.361389", "38.115556", "Palermo", "1", "1", "new"],
        &["GEOADD", "Sicily", "-180", "-85.05112878", "sw", "180", "85.05112878", "ne"],
        &["GEOPOS", "Sicily", "sw", "ne"],
        &["GEOHASH", "Sicily", "sw", "ne"],
        &["GEOSEARCH", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "20000", "km", "ASC"],
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "1",
            "1",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "Sicily",
            "BYRADIUS",
            "1",
            "km",
            "BYBOX",
            "1",
            "1",
            "km",
            "FROMLONLAT",
            "1",
            "1",
        ],
        &["GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STORE", "x"],
        &[
            "GEOSEARCHSTORE",
            "d",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYBOX",
            "400",
            "400",
            "km",
            "STOREDIST",
        ],
        &["ZRANGE", "d", "0", "-1", "WITHSCORES"],
        &["GEOSEARCHSTORE", "d", "nokey", "FROMMEMBER", "Palermo", "BYBOX", "400", "400", "km"],
        &["EXISTS", "d"],
        &[
            "GEOADD", "same", "5", "5", "a", "5", "5", "b", "5", "5", "c", "5", "5", "d", "5", "5",
            "e",
        ],
        &[
            "GEOADD", "same", "5", "5", "f", "5", "5", "g", "5", "5", "h", "5.1", "5", "i", "5",
            "5", "j",
        ],
        &[
            "GEOSEARCH",
            "same",
            "FROMLONLAT",
            "5",
            "5",
            "BYRADIUS",
            "100",
            "km",
            "ASC",
            "COUNT",
            "3",
        ],
        &[
            "GEOSEARCH",
            "same",
            "FROMLONLAT",
            "5",
            "5",
            "BYRADIUS",
            "100",
            "km",
            "DESC",
            "COUNT",
            "4",
        ],
        &["GEOSEARCH", "same", "FROMLONLAT", "5", "5", "BYRADIUS", "100", "km", "COUNT", "9"],
        &["GEOSEARCH", "same", "FROMLONLAT", "5", "5", "BYRADIUS", "100", "km", "COUNT", "10"],
        &["SET", "str", "x"],
        &["GEOPOS", "str", "a"],
        &["GEORADIUSBYMEMBER", "str", "a", "1", "km"],
        &["GEOSEARCH", "str", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"],
    ];
    for c in cases {
        common::assert_same(&mut t, &mut r, c);
    }
}

/// Members on one meridian, searched from one of them: Redis 7.0.15 measures such pairs along
/// the meridian (no haversine), which shows in the last digits of STOREDIST's scores.
#[test]
fn same_longitude_distances() {
    let Some((ours, real)) = start_pair(DIFF_ARGS) else {
        return;
    };
    let (mut t, mut r) = (ours.raw(), real.raw());
    let mut rng = Rng::new(9);
    for _ in 0..60 {
        let lon = format!("{:.4}", float(&mut rng, -170.0, 170.0));
        let mut add = vec!["GEOADD".to_string(), "s".into()];
        for i in 0..6 {
            add.extend([
                lon.clone(),
                format!("{:.4}", float(&mut rng, -80.0, 80.0)),
                format!("m{i}"),
            ]);
        }
        let a: Vec<&str> = add.iter().map(|s| s.as_str()).collect();
        for c in [&mut t, &mut r] {
            c.cmd(&["DEL", "s", "d"]);
            c.cmd(&a);
            c.cmd(&[
                "GEOSEARCHSTORE",
                "d",
                "s",
                "FROMMEMBER",
                "m0",
                "BYRADIUS",
                "20000",
                "km",
                "STOREDIST",
            ]);
        }
        common::assert_same(&mut t, &mut r, &["ZRANGE", "d", "0", "-1", "WITHSCORES"]);
        common::assert_same(&mut t, &mut r, &["GEODIST", "s", "m0", "m3"]);
    }
}
