//! Latency samples and their percentiles.

use std::time::Duration;

/// Every sample kept (in microseconds): runs here are short, so exact percentiles are cheap.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    micros: Vec<u64>,
    sorted: bool,
}

impl Latencies {
    pub fn push(&mut self, latency: Duration) {
        self.micros
            .push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        self.sorted = false;
    }

    pub fn extend(&mut self, other: &Latencies) {
        self.micros.extend_from_slice(&other.micros);
        self.sorted = false;
    }

    /// The q-quantile (0 < q <= 1) by the nearest-rank method; None without samples.
    pub fn percentile(&mut self, q: f64) -> Option<Duration> {
        if self.micros.is_empty() {
            return None;
        }
        if !self.sorted {
            self.micros.sort_unstable();
            self.sorted = true;
        }
        let rank = (q * self.micros.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.micros.len()) - 1;
        Some(Duration::from_micros(self.micros[index]))
    }

    pub fn max(&mut self) -> Option<Duration> {
        self.percentile(1.0)
    }
}

/// Milliseconds with a precision that suits the value: "0.42 ms", "5.3 ms", "120 ms".
pub fn ms(latency: Option<Duration>) -> String {
    match latency {
        None => "-".into(),
        Some(d) => {
            let ms = d.as_secs_f64() * 1000.0;
            if ms < 1.0 {
                format!("{ms:.2} ms")
            } else if ms < 100.0 {
                format!("{ms:.1} ms")
            } else {
                format!("{ms:.0} ms")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut l = Latencies::default();
        for ms in 1..=1000 {
            l.push(Duration::from_millis(ms));
        }
        assert_eq!(l.percentile(0.5), Some(Duration::from_millis(500)));
        assert_eq!(l.percentile(0.99), Some(Duration::from_millis(990)));
        assert_eq!(l.percentile(0.999), Some(Duration::from_millis(999)));
        assert_eq!(l.max(), Some(Duration::from_millis(1000)));
        assert_eq!(Latencies::default().percentile(0.5), None);
    }

    #[test]
    fn formats_milliseconds() {
        assert_eq!(ms(Some(Duration::from_micros(420))), "0.42 ms");
        assert_eq!(ms(Some(Duration::from_micros(5_300))), "5.3 ms");
        assert_eq!(ms(Some(Duration::from_millis(120))), "120 ms");
        assert_eq!(ms(None), "-");
    }
}
