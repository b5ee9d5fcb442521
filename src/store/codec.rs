//! Fixed-width little-endian encoding of column chunks.

use super::StoreError;

/// Encodes `u32`s, 4 bytes each.
pub(super) fn encode_u32s(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Encodes `i64`s, 8 bytes each.
pub(super) fn encode_i64s(values: &[i64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Appends the `u32`s encoded in `bytes` to `out`.
pub(super) fn decode_u32s(bytes: &[u8], out: &mut Vec<u32>) -> Result<(), StoreError> {
    let chunks = bytes.chunks_exact(4);
    if !chunks.remainder().is_empty() {
        return Err(StoreError::Corrupt("u32 chunk of odd length".into()));
    }
    out.extend(chunks.map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])));
    Ok(())
}

/// Appends the `i64`s encoded in `bytes` to `out`.
pub(super) fn decode_i64s(bytes: &[u8], out: &mut Vec<i64>) -> Result<(), StoreError> {
    let chunks = bytes.chunks_exact(8);
    if !chunks.remainder().is_empty() {
        return Err(StoreError::Corrupt("i64 chunk of odd length".into()));
    }
    out.extend(chunks.map(|b| i64::from_le_bytes(b.try_into().expect("chunks of 8"))));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let mut u = Vec::new();
        decode_u32s(&encode_u32s(&[0, 1, u32::MAX]), &mut u).unwrap();
        assert_eq!(u, [0, 1, u32::MAX]);
        let mut i = Vec::new();
        decode_i64s(&encode_i64s(&[i64::MIN, -1, 7]), &mut i).unwrap();
        assert_eq!(i, [i64::MIN, -1, 7]);
        assert!(decode_u32s(&[1, 2, 3], &mut u).is_err());
    }
}
