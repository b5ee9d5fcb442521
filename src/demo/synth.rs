//! Synthetic but realistic DUO and CBS data, generated in memory.
//!
//! Every identifier is synthetic: BSNs start with 9 (a range used for test
//! persons) and onderwijsnummers with 10, all passing their eleven-test. The
//! CSV text lives in memory only and is never written to disk.

use std::collections::HashSet;
use std::fmt::Write as _;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Education levels of every sector, as DUO's files hold them, in display
/// order: code, sector, label.
pub const NIVEAUS: [(&str, &str, &str); 13] = [
    ("groep_8", "po", "Groep 8"),
    ("vmbo_bk", "vo", "Vmbo basis/kader"),
    ("vmbo_gt", "vo", "Vmbo gemengd/theoretisch"),
    ("havo", "vo", "Havo"),
    ("vwo", "vo", "Vwo"),
    ("mbo_1", "mbo", "Mbo niveau 1"),
    ("mbo_2", "mbo", "Mbo niveau 2"),
    ("mbo_3", "mbo", "Mbo niveau 3"),
    ("mbo_4", "mbo", "Mbo niveau 4"),
    ("ad", "ho", "Associate degree"),
    ("bachelor", "ho", "Bachelor"),
    ("master", "ho", "Master"),
    ("vavo", "vavo", "Vavo"),
];
/// Sectors in the DUO file: code and label.
pub const SECTORS: [(&str, &str); 5] = [
    ("po", "Primair onderwijs"),
    ("vo", "Voortgezet onderwijs"),
    ("mbo", "Middelbaar beroepsonderwijs"),
    ("ho", "Hoger onderwijs"),
    ("vavo", "Voortgezet algemeen volwassenenonderwijs"),
];
/// Pupils in the tiny `vavo` sector (adult education towards havo/vwo):
/// a small group whose removal the differencing rule notices.
pub const VAVO_PUPILS: usize = 5;
/// The twelve provinces.
pub const PROVINCIES: [&str; 12] = [
    "groningen",
    "friesland",
    "drenthe",
    "overijssel",
    "flevoland",
    "gelderland",
    "utrecht",
    "noord_holland",
    "zuid_holland",
    "zeeland",
    "noord_brabant",
    "limburg",
];

/// How many rows with an invalid identifier the DUO file carries.
pub const INVALID_DUO_ROWS: usize = 3;

/// The generated files, as CSV text.
#[derive(Debug)]
pub struct SyntheticData {
    /// DUO: `pgn,sector,niveau,geslacht`, one row per pupil or student.
    pub duo_csv: String,
    /// CBS: `bsn,huishouden,decile,provincie,huishoudinkomen`, one row per
    /// person; the household's income and decile are shared by its members.
    pub cbs_csv: String,
    /// Persons in the DUO file with a valid identifier.
    pub duo_persons: usize,
    /// Persons in the CBS file.
    pub cbs_persons: usize,
}

/// Generates `pupils` DUO persons and a CBS population around them: about
/// 4% of pupils have only an onderwijsnummer, 99% of the others are at CBS
/// (so about 95% of DUO's persons link), and CBS holds twice as many
/// persons who are not in education.
pub fn generate(pupils: usize, seed: u64) -> SyntheticData {
    generate_population(pupils, pupils * 2, seed)
}

/// [`generate`] with `others` CBS persons who are not in education (for
/// population-scale measurements: 4 million pupils in 18 million persons).
pub fn generate_population(pupils: usize, others: usize, seed: u64) -> SyntheticData {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut used = HashSet::new();
    let mut duo = String::from("pgn,sector,niveau,geslacht\n");
    let mut cbs = String::from("bsn,huishouden,decile,provincie,huishoudinkomen\n");
    let mut cbs_persons = 0;
    let mut households = Households::default();
    for pupil in 0..pupils {
        let has_bsn = rng.random_bool(0.96);
        let id = if has_bsn {
            unique(&mut used, &mut rng, random_bsn)
        } else {
            unique(&mut used, &mut rng, random_onderwijsnummer)
        };
        // About a third of pupils share a household with the previous one.
        let household = households.next(&mut rng, 0.35);
        let (sector, niveau) = if pupil < VAVO_PUPILS {
            ("vavo", "vavo")
        } else {
            education(&mut rng, household.decile)
        };
        let geslacht = if rng.random_bool(0.5) { "m" } else { "v" };
        let _ = writeln!(duo, "{id},{sector},{niveau},{geslacht}");
        if has_bsn && rng.random_bool(0.99) {
            household.push(&mut cbs, &id);
            cbs_persons += 1;
        }
    }
    for _ in 0..others {
        let id = unique(&mut used, &mut rng, random_bsn);
        households.next(&mut rng, 0.5).push(&mut cbs, &id);
        cbs_persons += 1;
    }
    insert_invalid_rows(&mut duo, &mut rng);
    SyntheticData {
        duo_csv: duo,
        cbs_csv: cbs,
        duo_persons: pupils,
        cbs_persons,
    }
}

/// A synthetic household: its number, income decile, province and income.
#[derive(Clone, Copy, Default)]
struct Household {
    number: u64,
    decile: u32,
    provincie: usize,
    income: u32,
}

impl Household {
    fn push(&self, cbs: &mut String, id: &str) {
        let Household {
            number,
            decile,
            provincie,
            income,
        } = *self;
        let provincie = PROVINCIES[provincie];
        let _ = writeln!(cbs, "{id},h{number},{decile},{provincie},{income}");
    }
}

/// Hands out households; the next person joins the current one with some chance.
#[derive(Default)]
struct Households {
    current: Option<Household>,
    made: u64,
}

impl Households {
    fn next(&mut self, rng: &mut StdRng, join: f64) -> Household {
        match self.current {
            Some(h) if rng.random_bool(join) => h,
            _ => {
                self.made += 1;
                let decile = rng.random_range(1..=10u32);
                let h = Household {
                    number: self.made,
                    decile,
                    provincie: rng.random_range(0..PROVINCIES.len()),
                    income: 12_000 * decile + rng.random_range(0..12_000),
                };
                self.current = Some(h);
                h
            }
        }
    }
}

/// Sector and level; the chance of havo/vwo rises with parental income.
fn education(rng: &mut StdRng, decile: u32) -> (&'static str, &'static str) {
    let sector = match rng.random_range(0..100) {
        0..40 => "po",
        40..70 => "vo",
        70..85 => "mbo",
        _ => "ho",
    };
    let p_havo_vwo = 0.20 + 0.05 * f64::from(decile);
    let niveau = match sector {
        "po" => "groep_8",
        "vo" if rng.random_bool(p_havo_vwo) => {
            if rng.random_bool(0.5) {
                "havo"
            } else {
                "vwo"
            }
        }
        "vo" => {
            if rng.random_bool(0.45) {
                "vmbo_bk"
            } else {
                "vmbo_gt"
            }
        }
        "mbo" => match rng.random_range(0..10) {
            0 => "mbo_1",
            1..3 => "mbo_2",
            3..6 => "mbo_3",
            _ => "mbo_4",
        },
        _ if rng.random_bool(p_havo_vwo) && rng.random_bool(0.4) => "master",
        _ if rng.random_bool(0.08) => "ad",
        _ => "bachelor",
    };
    (sector, niveau)
}

/// Rows whose identifier fails the eleven-test, at random places.
fn insert_invalid_rows(duo: &mut String, rng: &mut StdRng) {
    let mut lines: Vec<String> = duo.lines().map(str::to_owned).collect();
    for _ in 0..INVALID_DUO_ROWS {
        let bad = loop {
            let n = rng.random_range(900_000_000u32..1_000_000_000);
            let digits = format!("{n:09}");
            if crate::pseudonym::Identifier::parse(digits.as_bytes()).is_err() {
                break digits;
            }
        };
        let at = rng.random_range(1..=lines.len());
        lines.insert(at, format!("{bad},vo,havo,v"));
    }
    *duo = lines.join("\n") + "\n";
}

fn unique(used: &mut HashSet<String>, rng: &mut StdRng, make: fn(&mut StdRng) -> String) -> String {
    loop {
        let id = make(rng);
        if used.insert(id.clone()) {
            return id;
        }
    }
}

/// Weighted sum 9·d1 + … + 2·d8 of the first eight digits.
fn partial_sum(digits: &[u32; 8]) -> u32 {
    digits.iter().zip((2..=9).rev()).map(|(d, w)| d * w).sum()
}

/// A random valid BSN starting with 9.
pub fn random_bsn(rng: &mut StdRng) -> String {
    complete(rng, [9], 0)
}

/// A random valid onderwijsnummer (starts with 10).
pub fn random_onderwijsnummer(rng: &mut StdRng) -> String {
    complete(rng, [1, 0], 5)
}

/// Random digits after `prefix`, then the check digit d9 that makes the
/// weighted sum ≡ `residue` (mod 11); retried when no digit does.
fn complete<const N: usize>(rng: &mut StdRng, prefix: [u32; N], residue: u32) -> String {
    loop {
        let mut d = [0u32; 8];
        d[..N].copy_from_slice(&prefix);
        for x in &mut d[N..] {
            *x = rng.random_range(0..10);
        }
        // S8 - d9 ≡ residue  ⇒  d9 ≡ S8 - residue (mod 11).
        let d9 = (partial_sum(&d) + 11 - residue) % 11;
        if d9 < 10 {
            return d
                .iter()
                .chain([&d9])
                .map(|x| char::from_digit(*x, 10).unwrap_or('0'))
                .collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pseudonym::{Identifier, IdentifierKind};

    #[test]
    fn generated_identifiers_pass_their_own_test_only() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..1000 {
            let b = random_bsn(&mut rng);
            assert_eq!(
                Identifier::parse(b.as_bytes()).unwrap().kind(),
                IdentifierKind::Bsn
            );
            let o = random_onderwijsnummer(&mut rng);
            assert_eq!(
                Identifier::parse(o.as_bytes()).unwrap().kind(),
                IdentifierKind::Onderwijsnummer
            );
        }
    }

    #[test]
    fn the_duo_file_holds_the_planned_invalid_rows() {
        let data = generate(200, 7);
        let invalid = data
            .duo_csv
            .lines()
            .skip(1)
            .filter(|l| Identifier::parse(l.split(',').next().unwrap().as_bytes()).is_err())
            .count();
        assert_eq!(invalid, INVALID_DUO_ROWS);
    }
}
