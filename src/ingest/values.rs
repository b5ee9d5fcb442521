//! Parsing one column's values into codes or exact integers.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::identifier_like::is_identifier_like;
use crate::classification::CodeList;
use crate::columns::ColumnData;
use crate::open_categories::POOLED_LABEL;
use crate::schema::{ColumnKind, MAX_DECLARED_CATEGORIES};

/// Longest value of an open categorical column, in bytes.
const MAX_OPEN_VALUE_LEN: usize = 200;

/// A column's categories by their bytes. Looked up for every value of
/// every row, so hashed by [`LabelHash`] rather than SipHash: the labels
/// are the data holder's own and few (declared, or capped at
/// [`MAX_DECLARED_CATEGORIES`]), so flooding is no concern.
pub(super) type Lookup = HashMap<Vec<u8>, u32, BuildHasherDefault<LabelHash>>;

/// Hashes a label from its length and its first and last eight bytes (all
/// of a label up to 16 bytes): two loads and a multiplication, where a
/// byte-at-a-time hash spends a multiplication per byte.
#[derive(Default)]
pub(super) struct LabelHash(u64);

impl Hasher for LabelHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        let word = |at: usize, width: usize| {
            let mut le = [0u8; 8];
            le[..width].copy_from_slice(&bytes[at..at + width]);
            u64::from_le_bytes(le)
        };
        let (first, last) = match n {
            8.. => (word(0, 8), word(n - 8, 8)),
            4..=7 => (word(0, 4), word(n - 4, 4)),
            1..=3 => (word(0, 1) | word(n / 2, 1) << 8, word(n - 1, 1)),
            0 => (0, 0),
        };
        let mixed = (first ^ self.0).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ last.rotate_left(29);
        self.0 = (mixed ^ n as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        self.0 ^= self.0 >> 31;
    }

    fn write_usize(&mut self, n: usize) {
        // The length prefix of a slice: `write` mixes the length in.
        self.0 ^= n as u64;
    }
}

/// Collects one column's values while rows are read.
pub(super) enum ColumnBuilder {
    Closed {
        lookup: Lookup,
        categories: Vec<String>,
        codes: Vec<u32>,
    },
    Open {
        lookup: Lookup,
        codes: Vec<u32>,
    },
    /// A classified column: the codes of the list `list`.
    Listed {
        lookup: Lookup,
        list: String,
        categories: Vec<String>,
        codes: Vec<u32>,
    },
    Integer(Vec<i64>),
    Decimal {
        scale: u32,
        values: Vec<i64>,
    },
}

/// A value parsed but not yet stored in its builder.
#[derive(Clone, Copy)]
pub(super) enum Parsed {
    Code(u32),
    NewOpenValue,
    Number(i64),
}

impl ColumnBuilder {
    pub(super) fn new(kind: &ColumnKind) -> Self {
        match kind {
            ColumnKind::Categorical { categories } => ColumnBuilder::Closed {
                lookup: (0u32..)
                    .zip(categories)
                    .map(|(i, c)| (c.as_bytes().to_vec(), i))
                    .collect(),
                categories: categories.clone(),
                codes: Vec::new(),
            },
            ColumnKind::OpenCategorical => ColumnBuilder::Open {
                lookup: Lookup::default(),
                codes: Vec::new(),
            },
            // Without its list (see `listed`), a classified column accepts nothing.
            ColumnKind::Classified { code_list } => ColumnBuilder::Listed {
                lookup: Lookup::default(),
                list: code_list.name.clone(),
                categories: Vec::new(),
                codes: Vec::new(),
            },
            ColumnKind::Integer => ColumnBuilder::Integer(Vec::new()),
            ColumnKind::Decimal { scale } => ColumnBuilder::Decimal {
                scale: *scale,
                values: Vec::new(),
            },
        }
    }

    /// A builder for a column classified by `list`: its codes, in list order.
    pub(super) fn listed(list: &CodeList) -> Self {
        let categories: Vec<String> = list.codes().iter().map(|c| c.code.clone()).collect();
        ColumnBuilder::Listed {
            lookup: (0u32..)
                .zip(&categories)
                .map(|(i, c)| (c.as_bytes().to_vec(), i))
                .collect(),
            list: list.id().name.clone(),
            categories,
            codes: Vec::new(),
        }
    }

    /// The code of a (trimmed) field that is a declared category or listed
    /// code, nearly every field: found inline, in the row's loop, and
    /// returned in a register. Anything else goes to [`Self::check`].
    #[inline]
    pub(super) fn known_code(&self, field: &[u8]) -> Option<u32> {
        match self {
            ColumnBuilder::Closed { lookup, .. } | ColumnBuilder::Listed { lookup, .. }
                if !field.is_empty() =>
            {
                lookup.get(field).copied()
            }
            _ => None,
        }
    }

    /// Checks a (trimmed) field; the reason never includes the value.
    pub(super) fn check(&self, field: &[u8]) -> Result<Parsed, String> {
        if field.is_empty() {
            return Err("value is missing".into());
        }
        match self {
            ColumnBuilder::Closed {
                lookup, categories, ..
            } => lookup
                .get(field)
                .map(|&c| Parsed::Code(c))
                .ok_or_else(|| format!("not one of the {} declared categories", categories.len())),
            ColumnBuilder::Open { lookup, .. } => {
                if let Some(&c) = lookup.get(field) {
                    return Ok(Parsed::Code(c));
                }
                if crate::pseudonym::Identifier::parse(field).is_ok() {
                    // A misaligned file must not turn identifiers into
                    // category labels that tables would show.
                    return Err("looks like a BSN or onderwijsnummer; categories may not".into());
                }
                if crate::pseudonym::HolderPseudonym::parse(field).is_ok() {
                    // Whoever holds the holders' key could re-identify a
                    // label that tables release, whatever digits it has.
                    return Err("looks like a holder pseudonym; categories may not".into());
                }
                let Some(text) = std::str::from_utf8(field)
                    .ok()
                    .filter(|_| field.len() <= MAX_OPEN_VALUE_LEN)
                else {
                    return Err(format!(
                        "category must be UTF-8 text of at most {MAX_OPEN_VALUE_LEN} bytes"
                    ));
                };
                if text.chars().any(char::is_control) {
                    // A label shows up in tables and terminals; NUL or an
                    // escape sequence there is trouble, never a category.
                    return Err("category must not contain control characters".into());
                }
                if is_identifier_like(text) {
                    // Tables release labels; an identifier in any spelling
                    // must not become one.
                    return Err(
                        "looks like an identifier (eight or more digits, or a number \
                         of eight or more digits in exponent form); categories may not"
                            .into(),
                    );
                }
                if text == POOLED_LABEL {
                    // Named without quoting it, as no reason quotes a value.
                    return Err(
                        "the label of the pooled category of rare values is reserved".into(),
                    );
                }
                if lookup.len() >= MAX_DECLARED_CATEGORIES {
                    return Err(format!(
                        "more than {MAX_DECLARED_CATEGORIES} distinct categories"
                    ));
                }
                Ok(Parsed::NewOpenValue)
            }
            ColumnBuilder::Listed {
                lookup,
                list,
                categories,
                ..
            } => lookup.get(field).map(|&c| Parsed::Code(c)).ok_or_else(|| {
                format!(
                    "not one of the {} codes of code list `{list}`",
                    categories.len()
                )
            }),
            ColumnBuilder::Integer(_) => parse_integer(field).map(Parsed::Number),
            ColumnBuilder::Decimal { scale, .. } => {
                parse_decimal(field, *scale).map(Parsed::Number)
            }
        }
    }

    /// Whether [`fork`](Self::fork) gives a builder.
    pub(super) fn forks(&self) -> bool {
        !matches!(self, ColumnBuilder::Open { .. })
    }

    /// An empty builder with this one's categories, for reading another
    /// part of the file; `None` for an open column, whose categories grow
    /// as rows are read (and are capped over the whole file).
    pub(super) fn fork(&self) -> Option<Self> {
        Some(match self {
            ColumnBuilder::Closed {
                lookup, categories, ..
            } => ColumnBuilder::Closed {
                lookup: lookup.clone(),
                categories: categories.clone(),
                codes: Vec::new(),
            },
            ColumnBuilder::Open { .. } => return None,
            ColumnBuilder::Listed {
                lookup,
                list,
                categories,
                ..
            } => ColumnBuilder::Listed {
                lookup: lookup.clone(),
                list: list.clone(),
                categories: categories.clone(),
                codes: Vec::new(),
            },
            ColumnBuilder::Integer(_) => ColumnBuilder::Integer(Vec::new()),
            ColumnBuilder::Decimal { scale, .. } => ColumnBuilder::Decimal {
                scale: *scale,
                values: Vec::new(),
            },
        })
    }

    /// Room for `rows` more values.
    pub(super) fn reserve(&mut self, rows: usize) {
        match self {
            ColumnBuilder::Closed { codes, .. }
            | ColumnBuilder::Open { codes, .. }
            | ColumnBuilder::Listed { codes, .. } => codes.reserve(rows),
            ColumnBuilder::Integer(v) | ColumnBuilder::Decimal { values: v, .. } => v.reserve(rows),
        }
    }

    /// Appends the values of a [`fork`](Self::fork) of this builder, read
    /// from the rows after this one's, and empties the fork (keeping its
    /// room, for another part).
    pub(super) fn absorb(&mut self, other: &mut ColumnBuilder) {
        match (self, other) {
            (ColumnBuilder::Closed { codes, .. }, ColumnBuilder::Closed { codes: more, .. })
            | (ColumnBuilder::Listed { codes, .. }, ColumnBuilder::Listed { codes: more, .. }) => {
                codes.extend_from_slice(more);
                more.clear();
            }
            (ColumnBuilder::Integer(v), ColumnBuilder::Integer(more))
            | (
                ColumnBuilder::Decimal { values: v, .. },
                ColumnBuilder::Decimal { values: more, .. },
            ) => {
                v.extend_from_slice(more);
                more.clear();
            }
            _ => unreachable!("absorb is only called with a fork of the same builder"),
        }
    }

    /// Stores a value that [`check`](Self::check) accepted.
    pub(super) fn push(&mut self, field: &[u8], parsed: Parsed) {
        match (self, parsed) {
            (ColumnBuilder::Closed { codes, .. }, Parsed::Code(c)) => codes.push(c),
            (ColumnBuilder::Open { codes, .. }, Parsed::Code(c)) => codes.push(c),
            (ColumnBuilder::Listed { codes, .. }, Parsed::Code(c)) => codes.push(c),
            (ColumnBuilder::Open { lookup, codes }, Parsed::NewOpenValue) => {
                let next = u32::try_from(lookup.len()).expect("bounded by MAX_DECLARED_CATEGORIES");
                let code = *lookup.entry(field.to_vec()).or_insert(next);
                codes.push(code);
            }
            (ColumnBuilder::Integer(v), Parsed::Number(n)) => v.push(n),
            (ColumnBuilder::Decimal { values, .. }, Parsed::Number(n)) => values.push(n),
            _ => unreachable!("push is only called with what check returned for this builder"),
        }
    }

    /// Finishes the column, keeping the rows at `keep` (all without it).
    /// Open categories are sorted by string, so that stores stay as they
    /// were; tables show them in natural order.
    pub(super) fn finish(self, keep: Option<&[u32]>) -> ColumnData {
        let data = match self {
            ColumnBuilder::Closed {
                categories, codes, ..
            } => ColumnData::Codes { categories, codes },
            ColumnBuilder::Open { lookup, codes } => sorted_open(lookup, codes),
            ColumnBuilder::Listed {
                categories, codes, ..
            } => ColumnData::Codes { categories, codes },
            ColumnBuilder::Integer(v) | ColumnBuilder::Decimal { values: v, .. } => {
                ColumnData::Numbers(v)
            }
        };
        match keep {
            Some(keep) if keep.len() < data.len() => data.permute(keep),
            _ => data,
        }
    }
}

fn sorted_open(lookup: Lookup, codes: Vec<u32>) -> ColumnData {
    let mut entries: Vec<(String, u32)> = lookup
        .into_iter()
        .map(|(k, c)| (String::from_utf8(k).expect("checked as UTF-8"), c))
        .collect();
    entries.sort();
    let mut remap = vec![0u32; entries.len()];
    for (new, (_, old)) in (0u32..).zip(&entries) {
        remap[*old as usize] = new;
    }
    ColumnData::Codes {
        categories: entries.into_iter().map(|(k, _)| k).collect(),
        codes: codes.into_iter().map(|c| remap[c as usize]).collect(),
    }
}

fn parse_integer(field: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(field)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| "not a whole number in the 64-bit range".into())
}

/// Parses `-123.45` with `scale` 2 into -12345. Fewer decimals are padded;
/// more are an error, as is anything but an optional sign, digits and one point.
pub(crate) fn parse_decimal(field: &[u8], scale: u32) -> Result<i64, String> {
    let bad = || format!("not a decimal number with at most {scale} digits after the point");
    let (negative, body) = match field {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, field),
    };
    let (int_part, frac_part) = match body.iter().position(|&b| b == b'.') {
        Some(p) => (&body[..p], &body[p + 1..]),
        None => (body, &b""[..]),
    };
    let digits_only = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if (int_part.is_empty() && frac_part.is_empty())
        || !digits_only(int_part)
        || !digits_only(frac_part)
        || frac_part.len() > scale as usize
    {
        return Err(bad());
    }
    let mut value: i64 = 0;
    let padded = frac_part
        .iter()
        .copied()
        .chain(std::iter::repeat_n(b'0', scale as usize - frac_part.len()));
    for d in int_part.iter().copied().chain(padded) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(d - b'0')))
            .ok_or_else(|| "number out of range".to_string())?;
    }
    Ok(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::{parse_decimal, ColumnBuilder};
    use crate::schema::ColumnKind;

    #[test]
    fn open_categories_refuse_control_characters_without_echoing_them() {
        let b = ColumnBuilder::new(&ColumnKind::OpenCategorical);
        for bad in [
            &b"a\0b"[..],
            b"x\x1b[31m",
            b"tab\there",
            "nel\u{85}".as_bytes(),
        ] {
            let reason = b.check(bad).err().expect("refused");
            assert!(reason.contains("control characters"), "{reason}");
        }
        assert!(b.check("caf\u{e9}".as_bytes()).is_ok());
    }

    #[test]
    fn open_categories_refuse_identifier_spellings_without_echoing_them() {
        let b = ColumnBuilder::new(&ColumnKind::OpenCategorical);
        for bad in [
            "486297135.0",
            "0579403063",
            "BSN047938808",
            "497-513-845",
            "7.34778181E+08",
        ] {
            let reason = b.check(bad.as_bytes()).err().expect("refused");
            assert!(reason.contains("looks like an identifier"), "{reason}");
            assert!(!reason.contains(bad), "{reason}");
        }
        for good in ["12-14 jaar", "1234AB", "groep 8", "2.5E+3"] {
            assert!(b.check(good.as_bytes()).is_ok(), "{good}");
        }
    }

    #[test]
    fn open_categories_refuse_holder_pseudonyms_even_with_few_digits() {
        let b = ColumnBuilder::new(&ColumnKind::OpenCategorical);
        // Four decimal digits: not identifier-like, but a holder pseudonym.
        let few_digits = "abcdef".repeat(10) + "1234";
        let reason = b.check(few_digits.as_bytes()).err().expect("refused");
        assert!(reason.contains("holder pseudonym"), "{reason}");
        assert!(!reason.contains(&few_digits[..12]), "{reason}");
        assert!(b.check("abcdef".repeat(10).as_bytes()).is_ok());
    }

    #[test]
    fn open_categories_refuse_the_pooled_label() {
        let b = ColumnBuilder::new(&ColumnKind::OpenCategorical);
        let reason = b.check(b"(other)").err().expect("refused");
        assert!(
            reason.contains("reserved") && !reason.contains("(other)"),
            "{reason}"
        );
        assert!(b.check(b"(others)").is_ok());
    }

    #[test]
    fn labels_that_hash_alike_keep_their_own_codes() {
        // The hash reads the first and last eight bytes: these differ only
        // in the middle, and in length, and in one byte of a short label.
        let labels = [
            "aaaaaaaa_x_bbbbbbbb",
            "aaaaaaaa_y_bbbbbbbb",
            "aaaaaaaabbbbbbbb",
            "aaaaaaaa__bbbbbbbb",
            "a",
            "ab",
            "abc",
            "axc",
            "",
        ];
        let kind = ColumnKind::Categorical {
            categories: labels[..8].iter().map(|l| l.to_string()).collect(),
        };
        let b = ColumnBuilder::new(&kind);
        for (code, label) in (0u32..).zip(&labels[..8]) {
            assert!(matches!(b.check(label.as_bytes()), Ok(super::Parsed::Code(c)) if c == code));
        }
        assert!(b.check(b"aaaaaaaa_z_bbbbbbbb").is_err());
        assert!(b.check(b"abd").is_err());
    }

    #[test]
    fn decimals_are_scaled_exactly() {
        assert_eq!(parse_decimal(b"123.45", 2), Ok(12345));
        assert_eq!(parse_decimal(b"-0.5", 2), Ok(-50));
        assert_eq!(parse_decimal(b"7", 2), Ok(700));
        assert_eq!(parse_decimal(b".5", 1), Ok(5));
        assert!(parse_decimal(b"1.234", 2).is_err());
        assert!(parse_decimal(b"1,5", 2).is_err());
        assert!(parse_decimal(b"-", 2).is_err());
        assert!(parse_decimal(b"99999999999999999999", 0).is_err());
    }
}
