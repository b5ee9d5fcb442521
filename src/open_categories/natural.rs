//! Natural order of labels: runs of ASCII digits compare as numbers
//! (`5-9` before `10-14`, `groep 2` before `groep 10`), everything else
//! character by character.
//!
//! A label is read as a sequence of tokens: each non-digit character, and
//! each run of digits as one number. A number sits where a digit would sit
//! among the characters (after `-` and the space, before letters), so the
//! tokens are totally ordered and the sequences compare lexicographically.
//! Labels that differ only in leading zeros (`05`, `5`) compare equal as
//! tokens; plain string order breaks that tie, so the order is total.

use std::cmp::Ordering;

/// Compares two labels in natural order; equal only when the labels are.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    tokens(a).cmp(tokens(b)).then_with(|| a.cmp(b))
}

/// A character that is not an ASCII digit, or a run of digits.
#[derive(PartialEq, Eq)]
enum Token<'a> {
    Char(char),
    /// The digits without their leading zeros (`""` for zero).
    Number(&'a str),
}

impl Ord for Token<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Token::Char(a), Token::Char(b)) => a.cmp(b),
            // More significant digits is larger; as long, digit by digit.
            (Token::Number(a), Token::Number(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Token::Char(c), Token::Number(_)) => char_against_digit(*c),
            (Token::Number(_), Token::Char(c)) => char_against_digit(*c).reverse(),
        }
    }
}

impl PartialOrd for Token<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Where a non-digit character sits against any number: where it sits
/// against the digit `0`.
fn char_against_digit(c: char) -> Ordering {
    if c < '0' {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

fn tokens(s: &str) -> impl Iterator<Item = Token<'_>> {
    let mut rest = s;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        if first.is_ascii_digit() {
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let (run, tail) = rest.split_at(end);
            rest = tail;
            Some(Token::Number(run.trim_start_matches('0')))
        } else {
            rest = &rest[first.len_utf8()..];
            Some(Token::Char(first))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;
    use proptest::prelude::*;
    use std::cmp::Ordering::{Equal, Greater, Less};

    fn sorted(labels: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        v.sort_by(|a, b| natural_cmp(a, b));
        v
    }

    #[test]
    fn digit_runs_compare_as_numbers() {
        assert_eq!(
            sorted(&["10-14", "15+", "5-9", "0-4"]),
            ["0-4", "5-9", "10-14", "15+"]
        );
        assert_eq!(
            sorted(&["groep 10", "groep 2", "groep 1"]),
            ["groep 1", "groep 2", "groep 10"]
        );
        assert_eq!(natural_cmp("a2b", "a10a"), Less);
        assert_eq!(
            natural_cmp("99999999999999999999999", "100000000000000000000000"),
            Less
        );
    }

    #[test]
    fn text_compares_as_text() {
        assert_eq!(sorted(&["vwo", "havo", "vmbo"]), ["havo", "vmbo", "vwo"]);
        assert_eq!(natural_cmp("Delft", "delft"), Less);
        assert_eq!(natural_cmp("a", "a1"), Less);
        // A character below `0` comes before a number, one above after it.
        assert_eq!(natural_cmp("a-", "a1"), Less);
        assert_eq!(natural_cmp("ab", "a1"), Greater);
    }

    #[test]
    fn leading_zeros_tie_numerically_and_break_by_string_order() {
        assert_eq!(natural_cmp("05", "5"), Less);
        assert_eq!(natural_cmp("5", "05"), Greater);
        assert_eq!(natural_cmp("05", "6"), Less);
        assert_eq!(natural_cmp("x", "x"), Equal);
    }

    /// Short strings over a small alphabet, so that digit runs, shared
    /// prefixes and leading zeros meet often.
    fn label() -> impl Strategy<Value = String> {
        "[0-9ab é.-]{0,6}"
    }

    proptest! {
        #[test]
        fn equal_only_when_identical(a in label(), b in label()) {
            prop_assert_eq!(natural_cmp(&a, &b) == Equal, a == b);
        }

        #[test]
        fn antisymmetric(a in label(), b in label()) {
            prop_assert_eq!(natural_cmp(&a, &b), natural_cmp(&b, &a).reverse());
        }

        #[test]
        fn transitive(a in label(), b in label(), c in label()) {
            // Sorted, every pair must be in order: a cycle would break one.
            let mut v = [a, b, c];
            v.sort_by(|x, y| natural_cmp(x, y));
            for (i, j) in [(0, 1), (1, 2), (0, 2)] {
                prop_assert_ne!(natural_cmp(&v[i], &v[j]), Greater, "{:?}", v);
            }
        }

        #[test]
        fn numbers_compare_by_value(n in 0u64..100_000, m in 0u64..100_000) {
            prop_assert_eq!(natural_cmp(&n.to_string(), &m.to_string()), n.cmp(&m));
            let (a, b) = (format!("groep {n}"), format!("groep {m}"));
            prop_assert_eq!(natural_cmp(&a, &b), n.cmp(&m));
        }
    }
}
