//! Encoding of column chunks.
//!
//! A chunk is stored packed ([`PACKED`]): a header, then each value as the
//! fewest little-endian bytes that hold its distance from a base, or, for
//! a non-decreasing chunk such as a dataset's person numbers, from the
//! value before it, whichever is smaller. A national dataset's category
//! codes take one byte a value instead of four, its person numbers one
//! instead of four: a third of the bytes to write at upload and to read
//! at start. Chunks written before (`packing` 0, [`FIXED`]) are
//! fixed-width arrays: 4 bytes a `u32`, 8 an `i64`.
//!
//! Packed layout: byte 0 is the width (0 to 8; 0 when every distance is
//! 0) with bit 7 set for distances from the value before; bytes 1..5 the
//! value count (`u32`); bytes 5..13 the base (`i64`, the least value, or
//! the first with distances from the value before); then the distances,
//! one per value (one fewer with distances from the value before).

use super::StoreError;

/// `packing` of a fixed-width chunk (written before packed chunks).
pub(super) const FIXED: i64 = 0;
/// `packing` of a packed chunk.
pub(super) const PACKED: i64 = 1;

const HEADER: usize = 13;
const DELTAS: u8 = 0x80;

/// Bytes needed for `span` (0 for 0).
fn width_of(span: u64) -> usize {
    (64 - span.leading_zeros() as usize).div_ceil(8)
}

/// Packs `values` (see the [module docs](self)).
pub(super) fn pack<T: Copy + Into<i64>>(values: &[T]) -> Vec<u8> {
    let mut min = i64::MAX;
    let mut max = i64::MIN;
    let mut rising = true;
    let mut step = 0u64;
    let mut before = values.first().map_or(0, |&v| v.into());
    for &v in values {
        let v: i64 = v.into();
        min = min.min(v);
        max = max.max(v);
        rising &= v >= before;
        step = step.max(v.wrapping_sub(before) as u64);
        before = v;
    }
    let count = u32::try_from(values.len()).expect("a chunk holds fewer than 2^32 values");
    let spread = width_of(max.wrapping_sub(min) as u64);
    let deltas = rising && values.len() > 1 && width_of(step) < spread;
    let (width, base) = match (values.first(), deltas) {
        (Some(&first), true) => (width_of(step), first.into()),
        _ if values.is_empty() => (0, 0),
        _ => (spread, min),
    };
    // With deltas the first value is the base, and each other one a step.
    let written = if deltas {
        values.len() - 1
    } else {
        values.len()
    };
    let len = HEADER + width * written;
    // Each value is written as 8 bytes, of which the next one's overwrites
    // all but its `width`: a fixed-size store instead of a copy of `width`
    // bytes. The slack after the last is cut off.
    let mut out = vec![0u8; len + 8];
    out[0] = width as u8 | if deltas { DELTAS } else { 0 };
    out[1..5].copy_from_slice(&count.to_le_bytes());
    out[5..HEADER].copy_from_slice(&base.to_le_bytes());
    let mut at = HEADER;
    let mut put = |d: u64| {
        out[at..at + 8].copy_from_slice(&d.to_le_bytes());
        at += width;
    };
    if deltas {
        for pair in values.windows(2) {
            let (a, b): (i64, i64) = (pair[0].into(), pair[1].into());
            put(b.wrapping_sub(a) as u64);
        }
    } else if width > 0 {
        for &v in values {
            let v: i64 = v.into();
            put(v.wrapping_sub(base) as u64);
        }
    }
    out.truncate(len);
    out
}

/// Appends the values of a chunk stored with `packing` to `out`; each
/// must fit `T` (a `u32` column holds no negative value).
pub(super) fn unpack<T: TryFrom<i64> + Copy>(
    packing: i64,
    bytes: &[u8],
    out: &mut Vec<T>,
) -> Result<(), StoreError> {
    match packing {
        FIXED => unpack_fixed(bytes, out),
        PACKED => unpack_packed(bytes, out),
        other => Err(StoreError::Corrupt(format!("chunk packing {other}"))),
    }
}

/// A fixed-width chunk: `u32`s (4 bytes) or `i64`s (8), by `T`.
fn unpack_fixed<T: TryFrom<i64> + Copy>(bytes: &[u8], out: &mut Vec<T>) -> Result<(), StoreError> {
    let four = std::mem::size_of::<T>() == 4;
    let width = if four { 4 } else { 8 };
    if !bytes.len().is_multiple_of(width) {
        return Err(corrupt("fixed-width chunk of odd length"));
    }
    out.reserve(bytes.len() / width);
    for b in bytes.chunks_exact(width) {
        let v = if four {
            i64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        } else {
            i64::from_le_bytes(b.try_into().expect("chunks of 8"))
        };
        out.push(fit(v)?);
    }
    Ok(())
}

fn unpack_packed<T: TryFrom<i64> + Copy>(bytes: &[u8], out: &mut Vec<T>) -> Result<(), StoreError> {
    let Some((header, body)) = bytes.split_first_chunk::<HEADER>() else {
        return Err(corrupt("packed chunk without its header"));
    };
    let (width, deltas) = (usize::from(header[0] & !DELTAS), header[0] & DELTAS != 0);
    let count = u32::from_le_bytes(header[1..5].try_into().expect("4 bytes")) as usize;
    let base = i64::from_le_bytes(header[5..13].try_into().expect("8 bytes"));
    let encoded = if deltas {
        count.saturating_sub(1)
    } else {
        count
    };
    // A chunk holds at most COLUMN_CHUNK values: a damaged count must not
    // ask for gigabytes (a width-0 chunk has no body to check it against).
    if width > 8
        || count > super::COLUMN_CHUNK
        || (deltas && count == 0)
        || body.len() != width * encoded
    {
        return Err(corrupt("packed chunk of wrong length"));
    }
    out.reserve(count);
    match width {
        0 => unpack_width::<T, 0>(body, count, base, deltas, out),
        1 => unpack_width::<T, 1>(body, count, base, deltas, out),
        2 => unpack_width::<T, 2>(body, count, base, deltas, out),
        3 => unpack_width::<T, 3>(body, count, base, deltas, out),
        4 => unpack_width::<T, 4>(body, count, base, deltas, out),
        5 => unpack_width::<T, 5>(body, count, base, deltas, out),
        6 => unpack_width::<T, 6>(body, count, base, deltas, out),
        7 => unpack_width::<T, 7>(body, count, base, deltas, out),
        _ => unpack_width::<T, 8>(body, count, base, deltas, out),
    }
}

/// [`unpack_packed`] for one width `W`, so that each loop is unrolled.
fn unpack_width<T: TryFrom<i64> + Copy, const W: usize>(
    body: &[u8],
    count: usize,
    base: i64,
    deltas: bool,
    out: &mut Vec<T>,
) -> Result<(), StoreError> {
    let distance = |b: &[u8]| {
        let mut le = [0u8; 8];
        le[..W].copy_from_slice(b);
        u64::from_le_bytes(le) as i64
    };
    if W == 0 {
        let v: T = fit(base)?;
        out.extend(std::iter::repeat_n(v, count));
        return Ok(());
    }
    if deltas {
        let mut v = base;
        out.push(fit(v)?);
        for b in body.chunks_exact(W) {
            v = v.wrapping_add(distance(b));
            out.push(fit(v)?);
        }
    } else {
        for b in body.chunks_exact(W) {
            out.push(fit(base.wrapping_add(distance(b)))?);
        }
    }
    Ok(())
}

fn fit<T: TryFrom<i64>>(v: i64) -> Result<T, StoreError> {
    T::try_from(v).map_err(|_| corrupt("chunk value out of its column's range"))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.into())
}

/// Encodes `u32`s, 4 bytes each (the record keys of a person chunk).
pub(super) fn encode_u32s(values: &[u32]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(4 * values.len());
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes
}

/// Appends the `u32`s encoded in `bytes` to `out`.
pub(super) fn decode_u32s(bytes: &[u8], out: &mut Vec<u32>) -> Result<(), StoreError> {
    unpack_fixed(bytes, out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn round_trip<T: Copy + Into<i64> + TryFrom<i64> + PartialEq + std::fmt::Debug>(
        values: &[T],
    ) -> usize {
        let packed = pack(values);
        let mut back: Vec<T> = vec![];
        unpack(PACKED, &packed, &mut back).unwrap();
        assert_eq!(back, values);
        packed.len()
    }

    #[test]
    fn each_value_takes_the_bytes_of_its_distance() {
        // Codes of a ten-category column: one byte each.
        let codes: Vec<u32> = (0..1000).map(|i| i % 10).collect();
        assert_eq!(round_trip(&codes), HEADER + 1000);
        // A dataset's person numbers, rising with gaps: one byte each.
        let persons: Vec<u32> = (0..1000).map(|i| 5_000_000 + 3 * i).collect();
        assert_eq!(round_trip(&persons), HEADER + 999);
        // A constant chunk: the header only.
        assert_eq!(round_trip(&[7u32; 500]), HEADER);
        // Incomes with an extreme one: the range decides.
        assert_eq!(
            round_trip(&[20_000i64, -5, 1 << 40, 31_000]),
            HEADER + 4 * 6
        );
        assert_eq!(round_trip(&[i64::MIN, i64::MAX, 0]), HEADER + 3 * 8);
        assert_eq!(round_trip::<u32>(&[]), HEADER);
        assert_eq!(round_trip(&[u32::MAX]), HEADER);
    }

    #[test]
    fn chunks_written_before_packing_still_read() {
        let mut u: Vec<u32> = Vec::new();
        unpack(FIXED, &encode_u32s(&[0, 1, u32::MAX]), &mut u).unwrap();
        assert_eq!(u, [0, 1, u32::MAX]);
        let old: Vec<u8> = [i64::MIN, -1, 7]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut i: Vec<i64> = Vec::new();
        unpack(FIXED, &old, &mut i).unwrap();
        assert_eq!(i, [i64::MIN, -1, 7]);
        assert!(unpack(FIXED, &[1, 2, 3], &mut u).is_err());
    }

    #[test]
    fn damaged_chunks_are_refused() {
        let packed = pack(&[1u32, 2, 300]);
        let mut out: Vec<u32> = Vec::new();
        assert!(unpack(PACKED, &packed[..packed.len() - 1], &mut out).is_err());
        assert!(unpack(PACKED, &packed[..5], &mut out).is_err());
        assert!(unpack(2, &packed, &mut out).is_err());
        // A negative value is no u32.
        assert!(unpack(PACKED, &pack(&[-1i64, 4]), &mut out).is_err());
        let mut wide = packed.clone();
        wide[0] = 9;
        assert!(unpack(PACKED, &wide, &mut out).is_err());
        // A constant chunk that claims more values than a chunk holds.
        let mut huge = pack(&[5u32; 3]);
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(unpack(PACKED, &huge, &mut out).is_err());
    }

    proptest! {
        #[test]
        fn any_chunk_round_trips(values in proptest::collection::vec(any::<i64>(), 0..200),
                                 small in proptest::collection::vec(0u32..300, 0..200),
                                 sorted in any::<bool>()) {
            let mut small = small;
            if sorted {
                small.sort_unstable();
            }
            round_trip(&values);
            round_trip(&small);
        }
    }
}
