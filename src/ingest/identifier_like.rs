//! Whether an open category's value could be a person identifier in one
//! of the spellings files give them: with a decimal point or leading zero
//! (`486297135.0`, `0579403063`), a prefix or separators (`BSN047938808`,
//! `497-513-845`), or in a spreadsheet's exponent form (`7.34778181E+08`).
//!
//! Such a value would become a category label that tables release, so it
//! is refused whether or not its digits pass an identifier's checksum. The
//! rule is deliberately coarse: a genuine category rarely needs eight
//! digits. Not responsible for valid identifiers as such: those are
//! [`crate::pseudonym::Identifier`]'s, and are refused before this runs.

/// Fewest digits that make a value identifier-like: a BSN or an
/// onderwijsnummer has nine, an old BSN eight.
const MIN_DIGITS: usize = 8;

/// Smallest magnitude of a number in exponent form that is identifier-like:
/// 10^7, the smallest with eight integer digits.
const MIN_EXPONENT_MAGNITUDE: f64 = 1e7;

/// Whether `value` holds eight or more digits once everything else is
/// stripped, or is a number in exponent form of magnitude 10^7 or more.
pub(super) fn is_identifier_like(value: &str) -> bool {
    // Digits of any script count: a fullwidth spelling is no less an identifier.
    value.chars().filter(|c| c.is_numeric()).count() >= MIN_DIGITS || large_exponent_form(value)
}

/// `7.34778181E+08`, `1e9`, `-4.9E7` (or with a decimal comma, as
/// spreadsheets in a Dutch locale write it) of magnitude 10^7 or more.
fn large_exponent_form(value: &str) -> bool {
    let number_like = value
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b',' | b'e' | b'E'));
    if !number_like || !value.contains(['e', 'E']) {
        return false;
    }
    value
        .replacen(',', ".", 1)
        .parse::<f64>()
        // Too large for f64 parses as infinity, which is large too.
        .is_ok_and(|x| x.abs() >= MIN_EXPONENT_MAGNITUDE)
}

#[cfg(test)]
mod tests {
    use super::is_identifier_like;

    #[test]
    fn identifier_spellings_are_identifier_like() {
        for value in [
            "486297135.0",
            "0579403063",
            "BSN047938808",
            "497-513-845",
            "7.34778181E+08",
            "1e9",
            "-4.9E7",
            "1E7",
            "7,34778181E+08",
            "4.86e300000",
            "12345678",
            "bsn: 4862 9713 5",
            // The rule is coarse: a school year in full has eight digits too.
            "2020-2021",
            "\u{ff14}\u{ff18}\u{ff16}\u{ff12}\u{ff19}\u{ff17}\u{ff11}\u{ff13}",
        ] {
            assert!(is_identifier_like(value), "{value}");
        }
    }

    #[test]
    fn ordinary_labels_pass() {
        for value in [
            "12-14 jaar",
            "1234AB",
            "groep 8",
            "2.5E+3",
            "9.99E6",
            "1234567",
            "-1e-9",
            "Delft",
            "e",
            "E+",
            "2020/21",
            "",
        ] {
            assert!(!is_identifier_like(value), "{value}");
        }
    }
}
