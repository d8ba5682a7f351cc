//! The report's table: per phase, the requests sent and failed, their latencies and which
//! instance answered them; then the failed requests, grouped by request and answer.

use std::collections::BTreeMap;
use std::time::Duration;

use super::state::{PHASES, Phase, Record};
use crate::stats::{Latencies, ms};

pub fn phases(records: &[Record]) {
    println!(
        "{:<9} {:>5} {:>6} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8}  served by",
        "phase", "secs", "sent", "failed", "failed", "failed", "p50", "p99", "max"
    );
    println!(
        "{:<9} {:>5} {:>6} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8}",
        "", "", "", "", "GET", "POST", "", "", ""
    );
    let mut failures = Vec::new();
    for phase in PHASES {
        let in_phase: Vec<&Record> = records.iter().filter(|r| r.phase == phase).collect();
        println!("{}", phase_row(phase, &in_phase));
        failures.extend(failure_groups(phase, &in_phase));
    }
    if !failures.is_empty() {
        println!("failed requests (phase, count, request → answer):");
        for line in failures {
            println!("{line}");
        }
    }
}

fn phase_row(phase: Phase, in_phase: &[&Record]) -> String {
    let mut latencies = Latencies::default();
    for r in in_phase {
        latencies.push(r.latency);
    }
    let failed = in_phase.iter().filter(|r| !r.ok).count();
    let failed_get = in_phase.iter().filter(|r| !r.ok && r.kind.is_get()).count();
    let span = match (in_phase.first(), in_phase.last()) {
        (Some(a), Some(b)) => (b.sent_at.saturating_sub(a.sent_at)).as_secs_f64(),
        _ => 0.0,
    };
    format!(
        "{:<9} {:>5.0} {:>6} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8}  {}",
        phase.name(),
        span,
        in_phase.len(),
        failed,
        failed_get,
        failed - failed_get,
        ms(latencies.percentile(0.50)),
        ms(latencies.percentile(0.99)),
        ms(latencies.max()),
        served_by(in_phase)
    )
}

/// "a1:200 b1:198 -:2": requests per answering instance ("-": no answer, or no header).
fn served_by(records: &[&Record]) -> String {
    let mut served: BTreeMap<&str, usize> = BTreeMap::new();
    for r in records {
        *served
            .entry(r.served_by.as_deref().unwrap_or("-"))
            .or_default() += 1;
    }
    let served: Vec<String> = served.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    served.join(" ")
}

/// One line per request and answer that failed, with how often and when.
fn failure_groups(phase: Phase, in_phase: &[&Record]) -> Vec<String> {
    let mut groups: BTreeMap<(&str, String), (usize, Duration, Duration)> = BTreeMap::new();
    for r in in_phase.iter().filter(|r| !r.ok) {
        let detail: String = r.detail.chars().take(140).collect();
        let entry = groups
            .entry((r.kind.label(), detail))
            .or_insert((0, r.sent_at, r.sent_at));
        entry.0 += 1;
        entry.1 = entry.1.min(r.sent_at);
        entry.2 = entry.2.max(r.sent_at);
    }
    groups
        .into_iter()
        .map(|((kind, detail), (count, first, last))| {
            format!(
                "  {:<8} {count:>4} × {kind} → {detail}  (sent +{:.1}s..+{:.1}s)",
                phase.name(),
                first.as_secs_f64(),
                last.as_secs_f64()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ha::state::Kind;

    fn record(kind: Kind, sent_ms: u64, ok: bool, by: Option<&str>, detail: &str) -> Record {
        Record {
            phase: Phase::Kill,
            kind,
            sent_at: Duration::from_millis(sent_ms),
            latency: Duration::from_millis(5),
            ok,
            status: None,
            stale: false,
            served_by: by.map(str::to_owned),
            detail: detail.to_owned(),
        }
    }

    #[test]
    fn failures_are_grouped_by_request_and_answer() {
        let records = [
            record(Kind::Home, 1_000, false, None, "no answer"),
            record(Kind::Home, 2_500, false, None, "no answer"),
            record(Kind::Checkout, 2_000, false, Some("b1"), "503 from b1"),
            record(Kind::Home, 3_000, true, Some("b2"), "200 from b2"),
        ];
        let refs: Vec<&Record> = records.iter().collect();
        assert_eq!(
            failure_groups(Phase::Kill, &refs),
            [
                "  kill        2 × GET / → no answer  (sent +1.0s..+2.5s)",
                "  kill        1 × POST /api/v1/orders → 503 from b1  (sent +2.0s..+2.0s)",
            ]
        );
        assert_eq!(served_by(&refs), "-:2 b1:1 b2:1");
        let row = phase_row(Phase::Kill, &refs);
        assert!(
            row.starts_with("kill          2      4       3       2       1"),
            "{row}"
        );
        assert!(row.ends_with("  -:2 b1:1 b2:1"), "{row}");
    }
}
