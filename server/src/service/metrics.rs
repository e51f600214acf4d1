//! Resource metrics (spec/README.md §6) from the server's own sampler.
//!
//! Every [`ServiceOptions::metrics_interval`](super::ServiceOptions) the sampler reads each
//! running sandbox's counters (cgroup CPU time and memory, network bytes) and stores them in
//! one transaction. CPU usage and network rates are differences between consecutive samples;
//! memory is the sampled value (page cache included, as the API says). Reserved amounts are
//! the sandbox's limits (its `resources`, or the server's default size).

use std::{sync::Arc, time::Duration};

use indexmap::IndexMap;
use porter_sandbox::types::{
    MetricSummaryResponse, SandboxMetricsPoint, SandboxMetricsResponse, SandboxMetricsResult,
    SandboxMetricsSeries, StatusResponsePhase,
};

use super::error::{ServiceError, ServiceResult};
use super::{Service, store_error};
use crate::{
    store::{SandboxRow, UsageSample},
    time::{format_micros, now_micros},
};

/// The window of `metrics-summary` is clamped to this range (spec/README.md §6).
const MIN_WINDOW_SECONDS: i64 = 3 * 60;
/// See [`MIN_WINDOW_SECONDS`].
const MAX_WINDOW_SECONDS: i64 = 24 * 60 * 60;
/// The window when the caller gives no `since`.
const DEFAULT_WINDOW_SECONDS: i64 = 60 * 60;
/// Samples are kept this long.
const RETENTION_MICROS: i64 = 7 * 24 * 3_600_000_000;
/// A series has at most this many points; longer ranges are thinned evenly.
const MAX_POINTS: usize = 500;

/// One series the metrics endpoint can return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// CPU in use, cores.
    CpuUsage,
    /// CPU limit, cores.
    CpuReserved,
    /// Memory in use, bytes.
    MemoryUsage,
    /// Memory limit, bytes.
    MemoryReserved,
    /// Bytes received per second.
    NetworkRx,
    /// Bytes sent per second.
    NetworkTx,
}

impl Metric {
    /// The metric named by a wire value (`cpu_usage`, …).
    #[must_use]
    pub fn from_wire(value: &str) -> Option<Self> {
        Some(match value {
            "cpu_usage" => Self::CpuUsage,
            "cpu_reserved" => Self::CpuReserved,
            "memory_usage" => Self::MemoryUsage,
            "memory_reserved" => Self::MemoryReserved,
            "network_rx" => Self::NetworkRx,
            "network_tx" => Self::NetworkTx,
            _ => return None,
        })
    }

    fn unit(self) -> &'static str {
        match self {
            Self::CpuUsage | Self::CpuReserved => "cores",
            Self::MemoryUsage | Self::MemoryReserved => "bytes",
            Self::NetworkRx | Self::NetworkTx => "bytes/sec",
        }
    }
}

/// Starts the sampler (runs for the life of the process).
pub(super) fn spawn_sampler(service: Arc<Service>) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(service.options.metrics_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut rounds: u64 = 0;
        loop {
            ticker.tick().await;
            let service = service.clone();
            let prune = rounds % 1000 == 0;
            rounds += 1;
            // File reads and one SQLite commit: off the async threads.
            let _ = tokio::task::spawn_blocking(move || service.sample_once(prune)).await;
        }
    });
}

impl Service {
    /// Reads and stores one sample of every running sandbox.
    fn sample_once(&self, prune: bool) {
        let live = match self.store.live_sandboxes() {
            Ok(live) => live,
            Err(err) => {
                tracing::warn!("metrics sampler: {err}");
                return;
            }
        };
        let now = now_micros();
        let mut samples = Vec::new();
        let mut oom = self.oom_kills.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for row in live.iter().filter(|r| r.phase == StatusResponsePhase::Running) {
            let Some(usage) = self.runtime.usage(&row.id) else { continue };
            oom.insert(row.id.clone(), usage.oom_kills);
            let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            samples.push((
                row.id.clone(),
                UsageSample {
                    ts: now,
                    cpu_usec: clamp(usage.cpu_usec),
                    memory_bytes: clamp(usage.memory_bytes),
                    rx_bytes: clamp(usage.rx_bytes),
                    tx_bytes: clamp(usage.tx_bytes),
                },
            ));
        }
        oom.retain(|id, _| live.iter().any(|r| &r.id == id));
        drop(oom);
        if let Err(err) = self.store.append_usage(&samples) {
            tracing::warn!("metrics sampler: {err}");
        }
        if prune {
            if let Err(err) = self.store.prune_usage(now - RETENTION_MICROS) {
                tracing::warn!("pruning metrics: {err}");
            }
        }
    }

    /// OOM kills the sampler last saw in a sandbox (0 when never sampled).
    pub(crate) fn last_oom_kills(&self, id: &str) -> u64 {
        let oom = self.oom_kills.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        oom.get(id).copied().unwrap_or(0)
    }

    /// `GET /v1/sandbox/{id}/metrics-summary`: percentiles over the last `since` (clamped to
    /// [3 min, 24 h]; default 1 h).
    pub fn metrics_summary(
        &self,
        id: &str,
        since: Option<i64>,
    ) -> ServiceResult<MetricSummaryResponse> {
        let row = self.sandbox_row(id)?;
        let now = now_micros();
        let asked = since.map_or(DEFAULT_WINDOW_SECONDS, |t| (now - t) / 1_000_000);
        let window = asked.clamp(MIN_WINDOW_SECONDS, MAX_WINDOW_SECONDS);
        let end = row.finished_at.unwrap_or(now);
        let samples = self.store.usage(id, end - window * 1_000_000, end).map_err(store_error)?;
        let cpu: Vec<f64> = rates(&samples, |s| s.cpu_usec).into_iter().map(|(_, v)| v).collect();
        let memory: Vec<f64> = samples
            .iter()
            .filter(|s| s.ts >= end - window * 1_000_000)
            .map(|s| s.memory_bytes as f64)
            .collect();
        let (cpu_limit, mem_limit) = limits_of(&row);
        let has_data = !cpu.is_empty() && !memory.is_empty();
        let pct = |value: f64, limit: f64| if limit > 0.0 { value / limit * 100.0 } else { 0.0 };
        let (cpu50, cpu90) = (percentile(&cpu, 50.0), percentile(&cpu, 90.0));
        let (mem50, mem90) = (percentile(&memory, 50.0), percentile(&memory, 90.0));
        Ok(MetricSummaryResponse {
            window_seconds: window,
            has_data,
            cpu_cores_p50: cpu50,
            cpu_cores_p90: cpu90,
            cpu_limit_cores: cpu_limit,
            cpu_util_p50_pct: pct(cpu50, cpu_limit),
            cpu_util_p90_pct: pct(cpu90, cpu_limit),
            mem_bytes_p50: mem50 as i64,
            mem_bytes_p90: mem90 as i64,
            mem_limit_bytes: mem_limit as i64,
            mem_util_p50_pct: pct(mem50, mem_limit),
            mem_util_p90_pct: pct(mem90, mem_limit),
        })
    }

    /// `GET /v1/sandbox/{id}/metrics`: one series of `metric` between `start` and `end`.
    pub fn metrics_series(
        &self,
        id: &str,
        metric: Metric,
        start: i64,
        end: i64,
    ) -> ServiceResult<SandboxMetricsResponse> {
        let row = self.sandbox_row(id)?;
        if start > end {
            return Err(ServiceError::invalid("start_time_utc must not be after end_time_utc"));
        }
        let samples = thin(self.store.usage(id, start, end).map_err(store_error)?);
        let (cpu_limit, mem_limit) = limits_of(&row);
        let inside = |ts: &i64| *ts >= start;
        let points: Vec<(i64, f64)> = match metric {
            Metric::CpuUsage => rates(&samples, |s| s.cpu_usec),
            Metric::NetworkRx => rates(&samples, |s| s.rx_bytes)
                .into_iter()
                .map(|(t, v)| (t, v * 1_000_000.0))
                .collect(),
            Metric::NetworkTx => rates(&samples, |s| s.tx_bytes)
                .into_iter()
                .map(|(t, v)| (t, v * 1_000_000.0))
                .collect(),
            Metric::MemoryUsage => samples.iter().map(|s| (s.ts, s.memory_bytes as f64)).collect(),
            Metric::CpuReserved => samples.iter().map(|s| (s.ts, cpu_limit)).collect(),
            Metric::MemoryReserved => samples.iter().map(|s| (s.ts, mem_limit)).collect(),
        };
        let time_series = points
            .into_iter()
            .filter(|(t, _)| inside(t))
            .map(|(t, value)| SandboxMetricsPoint { timestamp_utc: format_micros(t), value })
            .collect();
        let mut labels = IndexMap::new();
        labels.insert("sandbox_id".to_owned(), row.id.clone());
        labels.insert("sandbox_name".to_owned(), row.name);
        Ok(SandboxMetricsResponse {
            results: vec![SandboxMetricsResult {
                series: vec![SandboxMetricsSeries {
                    labels: Some(labels),
                    unit: Some(metric.unit().to_owned()),
                    time_series,
                }],
            }],
        })
    }
}

/// The sandbox's CPU limit (cores) and memory limit (bytes); 0 when it has none.
fn limits_of(row: &SandboxRow) -> (f64, f64) {
    let resources = row.spec.resources.as_ref();
    let cpu = resources
        .and_then(|r| r.cpu.as_deref())
        .and_then(|c| super::quantity::cpu_millis(c).ok())
        .map_or(0.0, |m| m as f64 / 1000.0);
    let memory = resources
        .and_then(|r| r.memory.as_deref())
        .and_then(|m| super::quantity::memory_bytes(m).ok())
        .map_or(0.0, |b| b as f64);
    (cpu, memory)
}

/// Per-microsecond rates of a cumulative counter between consecutive samples, stamped with the
/// later sample's time (CPU: µs of CPU per µs = cores). A counter that went backwards (reset)
/// gives no point.
fn rates(samples: &[UsageSample], counter: impl Fn(&UsageSample) -> i64) -> Vec<(i64, f64)> {
    samples
        .windows(2)
        .filter_map(|pair| {
            let (a, b) = (&pair[0], &pair[1]);
            let (dt, dv) = (b.ts - a.ts, counter(b) - counter(a));
            (dt > 0 && dv >= 0).then(|| (b.ts, dv as f64 / dt as f64))
        })
        .collect()
}

/// Nearest-rank percentile; 0 for no values.
fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Keeps at most [`MAX_POINTS`] + 1 samples, evenly spaced, always the first and the last.
fn thin(samples: Vec<UsageSample>) -> Vec<UsageSample> {
    if samples.len() <= MAX_POINTS + 1 {
        return samples;
    }
    let step = samples.len().div_ceil(MAX_POINTS);
    let last = samples.len() - 1;
    samples
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0 || *i == last)
        .map(|(_, s)| s)
        .collect()
}

/// The sampling interval when the server is given none.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ts: i64, cpu: i64) -> UsageSample {
        UsageSample { ts, cpu_usec: cpu, memory_bytes: 0, rx_bytes: 0, tx_bytes: 0 }
    }

    #[test]
    fn rates_are_per_interval() {
        let samples = [sample(0, 0), sample(1_000_000, 500_000), sample(2_000_000, 2_500_000)];
        assert_eq!(rates(&samples, |s| s.cpu_usec), vec![(1_000_000, 0.5), (2_000_000, 2.0)]);
        // A reset counter gives no point rather than a negative rate.
        let reset = [sample(0, 100), sample(1_000_000, 50)];
        assert!(rates(&reset, |s| s.cpu_usec).is_empty());
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        assert!((percentile(&values, 50.0) - 5.0).abs() < f64::EPSILON);
        assert!((percentile(&values, 90.0) - 9.0).abs() < f64::EPSILON);
        assert!((percentile(&[], 90.0)).abs() < f64::EPSILON);
        assert!((percentile(&[3.0], 50.0) - 3.0).abs() < f64::EPSILON);
    }

    #[test]
    fn thinning_keeps_the_ends() {
        let samples: Vec<UsageSample> = (0..2000).map(|i| sample(i, i)).collect();
        let thinned = thin(samples);
        assert!(thinned.len() <= MAX_POINTS + 1, "{}", thinned.len());
        assert_eq!(thinned.first().map(|s| s.ts), Some(0));
        assert_eq!(thinned.last().map(|s| s.ts), Some(1999));
    }

    #[test]
    fn metrics_are_named_by_their_wire_values() {
        assert_eq!(Metric::from_wire("network_tx"), Some(Metric::NetworkTx));
        assert_eq!(Metric::from_wire("gpu"), None);
    }
}
