//! Kubernetes resource quantities (`"500m"`, `"2"`, `"512Mi"`, `"1.5Gi"`, `"129e6"`) turned
//! into the limits the runtime applies: thousandths of a core and bytes.
//!
//! The grammar is Kubernetes': a non-negative decimal number, then one suffix — binary (`Ki`,
//! `Mi`, `Gi`, `Ti`, `Pi`, `Ei`), decimal (`n`, `u`, `m`, none, `k`, `M`, `G`, `T`, `P`, `E`)
//! or a decimal exponent (`e3`, `E-2`). Amounts are computed exactly in integers (no float
//! rounding): `"0.1"` CPU is 100 millicores, `"1.5Gi"` is 1 610 612 736 bytes.

use super::error::{ServiceError, ServiceResult};

/// The smallest CPU limit: the kernel's minimum CFS quota is 1 ms per 100 ms period.
pub const MIN_CPU_MILLIS: u64 = 10;
/// The smallest memory limit that still starts a sandbox (its init and a shell).
pub const MIN_MEMORY_BYTES: u64 = 8 << 20;

/// A parsed quantity as a fraction `numerator / 10^scale`, kept exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quantity {
    /// The value times `10^scale` (never negative).
    numerator: u128,
    /// The number of decimal places in `numerator`.
    scale: u32,
}

impl Quantity {
    /// `self × factor`, rounded up to a whole number; `None` on overflow.
    fn times_ceil(self, factor: u128) -> Option<u64> {
        let whole = self.numerator.checked_mul(factor)?;
        let divisor = 10u128.checked_pow(self.scale)?;
        u64::try_from(whole.div_ceil(divisor)).ok()
    }
}

/// Why a quantity string was refused (without the field name; callers add it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Refusal {
    #[error("it is empty")]
    Empty,
    #[error("it is negative")]
    Negative,
    #[error("it does not start with a number")]
    NotANumber,
    #[error("the number is too large")]
    TooLarge,
    #[error("too many digits")]
    TooManyDigits,
    #[error("the unit {0:?} is unknown (use m for millicores, or Ki, Mi, Gi, k, M, G for bytes)")]
    UnknownUnit(String),
}

fn parse(text: &str) -> Result<Quantity, Refusal> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Refusal::Empty);
    }
    if text.starts_with('-') {
        return Err(Refusal::Negative);
    }
    let text = text.strip_prefix('+').unwrap_or(text);
    let number_len = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_len);
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
        return Err(Refusal::NotANumber);
    }
    let digits = format!("{int_part}{frac_part}");
    let numerator: u128 =
        if digits.is_empty() { 0 } else { digits.parse().map_err(|_| Refusal::TooLarge)? };
    let mut scale = u32::try_from(frac_part.len()).map_err(|_| Refusal::TooManyDigits)?;
    let (binary, decimal_exp): (u32, i32) = match suffix {
        "" => (0, 0),
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        other => match other.strip_prefix(['e', 'E']).map(str::parse::<i32>) {
            Some(Ok(exp)) if (-30..=30).contains(&exp) => (0, exp),
            _ => {
                return Err(Refusal::UnknownUnit(other.to_owned()));
            }
        },
    };
    let mut numerator = numerator.checked_mul(1u128 << binary).ok_or(Refusal::TooLarge)?;
    if decimal_exp >= 0 {
        numerator = numerator
            .checked_mul(10u128.pow(decimal_exp.unsigned_abs()))
            .ok_or(Refusal::TooLarge)?;
    } else {
        scale += decimal_exp.unsigned_abs();
    }
    Ok(Quantity { numerator, scale })
}

/// A CPU quantity as thousandths of a core (`"500m"` → 500, `"2"` → 2000).
///
/// # Errors
/// [`ServiceError::invalid`], saying what is wrong with `text` and what to write instead.
pub fn cpu_millis(text: &str) -> ServiceResult<u64> {
    let bad = |why: String| {
        ServiceError::invalid(format!(
            "resources.cpu {text:?} is not a valid CPU quantity: {why}; write cores (\"2\", \
             \"0.5\") or millicores (\"500m\")"
        ))
    };
    let millis = parse(text)
        .map_err(|r| bad(r.to_string()))?
        .times_ceil(1000)
        .ok_or_else(|| bad("too large".into()))?;
    if millis < MIN_CPU_MILLIS {
        return Err(ServiceError::invalid(format!(
            "resources.cpu {text:?} is too small: the least a sandbox can get is \
             {MIN_CPU_MILLIS}m (a hundredth of a core)"
        )));
    }
    Ok(millis)
}

/// A memory quantity in bytes (`"512Mi"` → 536 870 912, `"1G"` → 10^9).
///
/// # Errors
/// [`ServiceError::invalid`], saying what is wrong with `text` and what to write instead.
pub fn memory_bytes(text: &str) -> ServiceResult<u64> {
    let bytes = byte_size(text)?;
    if bytes < MIN_MEMORY_BYTES {
        return Err(ServiceError::invalid(format!(
            "resources.memory {text:?} is too small: a sandbox needs at least {} MiB",
            MIN_MEMORY_BYTES >> 20
        )));
    }
    Ok(bytes)
}

/// A size in bytes written as a memory quantity (`"64Ki"`, `"2Gi"`), with no minimum; errors
/// name `resources.memory` as [`memory_bytes`] does (callers naming another setting replace it).
///
/// # Errors
/// [`ServiceError::invalid`], saying what is wrong with `text` and what to write instead.
pub fn byte_size(text: &str) -> ServiceResult<u64> {
    let bad = |why: String| {
        ServiceError::invalid(format!(
            "resources.memory {text:?} is not a valid memory quantity: {why}; write bytes with a \
             unit, e.g. \"512Mi\" or \"2Gi\""
        ))
    };
    let bytes = parse(text)
        .map_err(|r| bad(r.to_string()))?
        .times_ceil(1)
        .ok_or_else(|| bad("too large".into()))?;
    Ok(bytes)
}

/// Formats millicores the way Kubernetes prints them (`1500` → `"1500m"`, `2000` → `"2"`).
#[must_use]
pub fn format_cpu(millis: u64) -> String {
    if millis % 1000 == 0 { (millis / 1000).to_string() } else { format!("{millis}m") }
}

/// Formats bytes with the largest binary unit that divides them (`2 << 30` → `"2Gi"`).
#[must_use]
pub fn format_memory(bytes: u64) -> String {
    for (shift, unit) in [(40, "Ti"), (30, "Gi"), (20, "Mi"), (10, "Ki")] {
        if bytes != 0 && bytes % (1u64 << shift) == 0 {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_quantities() {
        for (text, millis) in [
            ("2", 2000),
            ("500m", 500),
            ("0.5", 500),
            (".25", 250),
            ("1.5", 1500),
            ("100m", 100),
            ("2e-1", 200),
            ("+1", 1000),
            ("0.0105", 11), // rounded up to a whole millicore
            ("10m", 10),
        ] {
            assert_eq!(cpu_millis(text), Ok(millis), "{text}");
        }
        for text in ["", "-1", "abc", "1x", "5m", "0", "1..2", ".", "1Qi", "1e99"] {
            let err = cpu_millis(text).expect_err(text).message;
            assert!(err.contains("resources.cpu"), "{err}");
        }
    }

    #[test]
    fn memory_quantities() {
        for (text, bytes) in [
            ("512Mi", 512 << 20),
            ("2Gi", 2 << 30),
            ("1.5Gi", 3 << 29),
            ("1G", 1_000_000_000),
            ("128974848", 128_974_848),
            ("129e6", 129_000_000),
            ("123Mi", 123 << 20),
            ("64M", 64_000_000),
            ("16384Ki", 16 << 20),
        ] {
            assert_eq!(memory_bytes(text), Ok(bytes), "{text}");
        }
        for text in ["", "-1Gi", "1GB", "Gi", "1Mi", "lots", "99999999999999999999999Ei"] {
            let err = memory_bytes(text).expect_err(text).message;
            assert!(err.contains("resources.memory"), "{err}");
        }
    }

    #[test]
    fn formatting() {
        assert_eq!(format_cpu(2000), "2");
        assert_eq!(format_cpu(250), "250m");
        assert_eq!(format_memory(2 << 30), "2Gi");
        assert_eq!(format_memory(512 << 20), "512Mi");
        assert_eq!(format_memory(1_000_000_000), "1000000000");
    }
}
