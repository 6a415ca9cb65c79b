//! The phone numbers written in a customer row's `phone` and `mobile`.

use super::db::CustomerRow;
use crate::number::{canonical_key, Canonical, NumberPlan};

/// A piece of a field with fewer digits than this is not a number of its own
/// when the field also holds longer ones: it is an extension (`, доб. 12`), a
/// shorthand (`.../25`), or, before a `/`, an area code (`030/1234567`).
const MIN_NUMBER_DIGITS: usize = 5;

fn digit_count(s: &str) -> usize {
    s.bytes().filter(u8::is_ascii_digit).count()
}

/// The numbers written in one `phone` or `mobile` field; several are
/// separated by `,`, `;` or `/` (`8 916 ..., 8 495 ...`).
///
/// The field is cut at `,` and `;`; each item is cut again at `/` unless its
/// first piece is short (then the `/` is inside one number: `030/1234567`).
/// Pieces without digits are dropped, and if any piece has at least
/// [`MIN_NUMBER_DIGITS`] digits, the shorter ones are dropped too.
pub(crate) fn split_numbers(field: &str) -> Vec<&str> {
    let mut pieces: Vec<&str> = Vec::new();
    for item in field.split([',', ';']) {
        let parts: Vec<&str> = item.split('/').filter(|p| digit_count(p) > 0).collect();
        match parts.first() {
            Some(first) if parts.len() > 1 && digit_count(first) < MIN_NUMBER_DIGITS => pieces.push(item),
            _ => pieces.extend(parts),
        }
    }
    if pieces.iter().any(|p| digit_count(p) >= MIN_NUMBER_DIGITS) {
        pieces.retain(|p| digit_count(p) >= MIN_NUMBER_DIGITS);
    }
    pieces
}

/// The distinct canonical numbers of a row: a number in both `phone` and
/// `mobile` (or any further phone field), or twice in one field, counts once.
pub(super) fn row_keys(row: &CustomerRow, plan: &NumberPlan) -> Vec<Canonical> {
    let mut keys: Vec<Canonical> = Vec::new();
    for field in [&row.phone, &row.mobile].into_iter().chain(&row.more_phones) {
        for piece in split_numbers(field) {
            if let Some(key) = canonical_key(piece, plan) {
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_fields() {
        assert_eq!(split_numbers(""), Vec::<&str>::new());
        assert_eq!(split_numbers("   "), Vec::<&str>::new());
        assert_eq!(split_numbers("89161229624"), vec!["89161229624"]);
        assert_eq!(split_numbers("8 916 122 96 24, 8 495 123 45 67"), vec!["8 916 122 96 24", " 8 495 123 45 67"]);
        assert_eq!(split_numbers("89161229624;89165550000"), vec!["89161229624", "89165550000"]);
        assert_eq!(split_numbers("89161229624 / 89165550000"), vec!["89161229624 ", " 89165550000"]);
        // Extensions and shorthands are dropped, area codes kept together.
        assert_eq!(split_numbers("89161229624, доб. 12"), vec!["89161229624"]);
        assert_eq!(split_numbers("+7 916 122-96-24/25"), vec!["+7 916 122-96-24"]);
        assert_eq!(split_numbers("030/1234567"), vec!["030/1234567"]);
        assert_eq!(split_numbers("030/1234567, 030/7654321"), vec!["030/1234567", " 030/7654321"]);
        // Only short numbers: all kept.
        assert_eq!(split_numbers("101, 102"), vec!["101", " 102"]);
        assert_eq!(split_numbers("101"), vec!["101"]);
        assert_eq!(split_numbers(",,;/"), Vec::<&str>::new());
    }
}
