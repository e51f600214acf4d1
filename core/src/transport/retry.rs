//! Retry policy: which failures are re-sent, and how long to wait before each retry.

use std::time::Duration;

/// Retries after the first attempt (4 attempts in total).
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// Backoff before the first retry, before jitter.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// Upper bound of any backoff.
pub const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// 507 Insufficient Storage: the volume or disk is full, and stays full until someone frees
/// space, so re-sending only repeats the failure (and re-uploads the body).
pub const INSUFFICIENT_STORAGE: u16 = 507;

/// Whether an HTTP status is worth re-sending: 429 and every 5xx except 507.
#[must_use]
pub fn should_retry(status: u16) -> bool {
    status == 429 || ((500..=599).contains(&status) && status != INSUFFICIENT_STORAGE)
}

/// The upper bound of the wait before retrying a failed attempt with index `attempt` (0-based):
/// `0.5 s × 2^attempt`, capped at 8 s.
#[must_use]
pub fn backoff_ceiling(attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.min(16));
    INITIAL_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Full-jitter backoff: a uniformly random duration in `[0, backoff_ceiling(attempt)]`.
/// `Retry-After` is deliberately not consulted, as in every Porter SDK.
#[must_use]
pub fn backoff_delay(attempt: u32) -> Duration {
    backoff_ceiling(attempt).mul_f64(rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_and_cap() {
        let secs: Vec<f64> = (0..6).map(|a| backoff_ceiling(a).as_secs_f64()).collect();
        assert_eq!(secs, vec![0.5, 1.0, 2.0, 4.0, 8.0, 8.0]);
        assert_eq!(backoff_ceiling(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn delays_stay_within_bounds() {
        for attempt in 0..8 {
            for _ in 0..200 {
                assert!(backoff_delay(attempt) <= backoff_ceiling(attempt));
            }
        }
    }

    #[test]
    fn retryable_statuses() {
        assert!(should_retry(429));
        assert!(should_retry(500));
        assert!(should_retry(503));
        assert!(should_retry(599));
        assert!(should_retry(502) && should_retry(504) && should_retry(508));
        for status in [200, 204, 307, 400, 401, 404, 409, 507, 600] {
            assert!(!should_retry(status), "{status}");
        }
    }
}
