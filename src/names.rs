//! The names ddc declares (organisations, datasets, columns, code lists):
//! lower-case identifiers. Below both [`schema`](crate::schema) and
//! [`classification`](crate::classification), which both check them.

/// Whether `s` is a lower-case identifier: a letter, then letters, digits, `_`.
pub fn is_simple_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && s.len() <= 64
}
