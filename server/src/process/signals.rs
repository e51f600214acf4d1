//! Signal names and numbers (Linux x86-64 and arm64 share them).

/// The signals a caller may send, by name without the `SIG` prefix.
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// Parses `SIGTERM`, `TERM`, `sigterm` or `15`; the error says what is accepted.
pub fn parse(text: &str) -> Result<i32, String> {
    let trimmed = text.trim();
    if let Ok(number) = trimmed.parse::<i32>() {
        if SIGNALS.iter().any(|(_, n)| *n == number) {
            return Ok(number);
        }
    }
    let upper = trimmed.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS.iter().find(|(name, _)| *name == bare).map(|(_, n)| *n).ok_or_else(|| {
        let shown: String = trimmed.chars().take(40).collect();
        format!(
            "signal {shown:?} is not a signal: give a name such as SIGTERM, SIGKILL or SIGINT, or \
             its number (1–31, except 16)"
        )
    })
}

/// `SIGTERM` for 15; `SIG<n>` for a number without a name.
#[must_use]
pub fn name(number: i32) -> String {
    SIGNALS
        .iter()
        .find(|(_, n)| *n == number)
        .map_or_else(|| format!("SIG{number}"), |(name, _)| format!("SIG{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("SIGTERM"), Ok(15));
        assert_eq!(parse("term"), Ok(15));
        assert_eq!(parse("9"), Ok(9));
        assert_eq!(parse("sigkill"), Ok(9));
        assert!(parse("SIGNOPE").unwrap_err().contains("SIGTERM"));
        assert!(parse("0").is_err());
        assert!(parse("40").is_err());
        assert_eq!(name(9), "SIGKILL");
        assert_eq!(name(40), "SIG40");
    }
}
