//! Names and ids: DNS-label validation and id generation.

use rand::Rng;

use super::error::{ServiceError, ServiceResult};

/// Characters of generated ids: lowercase letters and digits, so every id is a DNS label.
const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A new id such as `sb-4k2j9x0q1m7z` (prefix, a hyphen, 12 random characters).
#[must_use]
pub fn new_id(prefix: &str) -> String {
    let mut rng = rand::rng();
    let suffix: String =
        (0..12).map(|_| char::from(ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())])).collect();
    format!("{prefix}-{suffix}")
}

/// Checks that `name` is a DNS label: 1–63 lowercase letters, digits and hyphens, starting and
/// ending with a letter or digit. `what` names the thing in the error (`sandbox`, `volume`).
pub fn validate_name(what: &str, name: &str) -> ServiceResult<()> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.len() > 63 {
        Some("is longer than 63 characters")
    } else if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        Some("may only contain lowercase letters, digits and hyphens")
    } else if name.starts_with('-') || name.ends_with('-') {
        Some("must start and end with a letter or digit")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(ServiceError::invalid(format!(
            "{what} name {name:?} {problem}: use a DNS label such as my-{what}-1 (lowercase \
             letters, digits and hyphens, at most 63 characters)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dns_labels() {
        for _ in 0..100 {
            let id = new_id("sb");
            assert_eq!(id.len(), 15);
            assert!(validate_name("sandbox", &id).is_ok(), "{id}");
        }
    }

    #[test]
    fn names() {
        for good in ["a", "my-sandbox", "x1", &"a".repeat(63)] {
            assert!(validate_name("sandbox", good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "My", "a_b", "a.b", "ä", &"a".repeat(64)] {
            let err = validate_name("sandbox", bad).unwrap_err().message;
            assert!(err.contains("DNS label"), "{err}");
        }
    }
}
