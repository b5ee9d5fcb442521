//! The release ledger: the defence against differencing, cell by cell.
//!
//! Disclosure happens per cell. Two released cells whose persons differ by
//! a few give those few away: with the cell-key method a cell's noise is a
//! function of its persons, so the difference of the two values is the few
//! persons' count plus two independent noises, and averaging over many such
//! pairs removes the noise. ddc therefore keeps a print of every cell of
//! every admitted table (margins and withheld cells included) and refuses
//! a new table when one of its cells covers linked persons that differ from
//! those of an earlier cell over the same datasets — in any table, any
//! project — by 1 to threshold − 1 persons, and at least one of the two
//! cells shows a value. The same persons worded differently are the same
//! cell: same print, same noise, admitted.
//!
//! A refusal must not itself answer the question. Removing a known person
//! from a cell changes its linked persons only if that person links, so a
//! print also holds a digest of each holder's own side of the cell (the
//! persons of that dataset that its own filters and categories put there,
//! before linkage). The same linked persons from different sides count as
//! a difference of zero, which is refused too: whether the person links or
//! not, the answer is the same refusal.
//!
//! What a print holds and how nearness is decided: [`print`](mod@print). The
//! in-memory index: [`index`]. No I/O here.

pub mod index;
pub mod print;

pub use index::{Ledger, LedgerCell, TooClose};
pub use print::{
    print_of, sides_digest, CellPrint, Draw, PrintKey, Screen, SetHash, Tag, UnitKind,
    FRACTION_ONE, PRINT_BYTES,
};

use crate::link::PersonNo;

/// The key under which cells over the same datasets are compared.
pub fn datasets_key(datasets: &[&str]) -> String {
    let mut names: Vec<&str> = datasets.to_vec();
    names.sort_unstable();
    names.dedup();
    names.join("|")
}

/// Stored cells: one byte (released or not) and the print, per cell.
pub fn encode_cells(cells: &[LedgerCell]) -> Vec<u8> {
    let mut out = Vec::with_capacity(cells.len() * (1 + PRINT_BYTES));
    for c in cells {
        out.push(u8::from(c.released));
        out.extend_from_slice(&c.print.to_bytes());
    }
    out
}

/// Decodes [`encode_cells`]' output; `None` if it is malformed.
pub fn decode_cells(bytes: &[u8]) -> Option<Vec<LedgerCell>> {
    if !bytes.len().is_multiple_of(1 + PRINT_BYTES) {
        return None;
    }
    bytes
        .chunks_exact(1 + PRINT_BYTES)
        .map(|c| {
            Some(LedgerCell {
                released: match c[0] {
                    0 => false,
                    1 => true,
                    _ => return None,
                },
                print: CellPrint::from_bytes(&c[1..])?,
            })
        })
        .collect()
}

/// Decodes ascending person numbers stored as LEB128 varints of their gaps
/// (how schema version 3 kept released populations).
pub fn decode_persons(bytes: &[u8]) -> Option<Vec<PersonNo>> {
    let mut out = Vec::new();
    let (mut value, mut shift, mut previous) = (0u32, 0u32, 0u32);
    for &b in bytes {
        value |= u32::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            previous = if out.is_empty() {
                value
            } else {
                previous.checked_add(value)?
            };
            out.push(previous);
            value = 0;
            shift = 0;
        } else {
            shift += 7;
            if shift > 28 {
                return None;
            }
        }
    }
    (shift == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_round_trip_and_malformed_bytes_are_refused() {
        let key = PrintKey::from_bytes([3; 16]);
        let cells = vec![
            LedgerCell {
                print: print_of(&key, &[1, 2, 3], &mut []),
                released: true,
            },
            LedgerCell {
                print: print_of(&key, &[], &mut []),
                released: false,
            },
        ];
        assert_eq!(decode_cells(&encode_cells(&cells)), Some(cells));
        assert_eq!(decode_cells(&[2; 1 + PRINT_BYTES]), None);
        assert_eq!(decode_cells(&[0; 7]), None);
    }

    #[test]
    fn version_three_populations_decode() {
        // 0, 1, 5, 300 as gaps 0, 1, 4, 295.
        assert_eq!(
            decode_persons(&[0, 1, 4, 0xa7, 0x02]),
            Some(vec![0, 1, 5, 300])
        );
        assert_eq!(decode_persons(&[0x80]), None);
    }
}
