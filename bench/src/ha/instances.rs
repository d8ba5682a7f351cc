//! What each app instance holds while the load runs, read from outside as an operator would:
//! its /metrics (requests in flight, the database pool's connections) straight from the
//! instance, and from /proc its resident memory (VmRSS) and open files. The instances and
//! their PIDs come from `cluster.sh instances`.

use std::path::Path;
use std::time::Duration;

/// An instance as cluster.sh lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub name: String,
    /// HOST:PORT, its own listener (not the load balancer).
    pub address: String,
    /// None: not running.
    pub pid: Option<u32>,
}

/// One reading of one instance; a field is None when it could not be read.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    pub in_flight: Option<f64>,
    pub pool_open: Option<f64>,
    pub pool_size: Option<f64>,
    pub rss_kb: Option<u64>,
    pub open_files: Option<usize>,
}

/// The instances of the cluster now.
pub async fn list(script: &Path) -> anyhow::Result<Vec<Instance>> {
    let listed = super::cluster::output(script, &["instances"])
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(parse_list(&listed))
}

fn parse_list(text: &str) -> Vec<Instance> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (name, address, pid) = (words.next()?, words.next()?, words.next()?);
            Some(Instance {
                name: name.to_owned(),
                address: address.to_owned(),
                pid: pid.parse().ok(),
            })
        })
        .collect()
}

/// Reads one instance; what cannot be read (it is stopped, or does not answer within a
/// second) stays None.
pub async fn read(client: &reqwest::Client, instance: &Instance) -> Reading {
    let metrics = async {
        let response = client
            .get(format!("http://{}/metrics", instance.address))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .ok()?;
        response.text().await.ok()
    };
    let mut reading = Reading::default();
    if let Some(text) = metrics.await {
        reading.in_flight = metric(&text, "http_requests_in_flight");
        reading.pool_open = metric(&text, "database_pool_connections{state=\"open\"}");
        reading.pool_size = metric(&text, "database_pool_size");
    }
    if let Some(pid) = instance.pid {
        reading.rss_kb = crate::process::memory(pid).ok().map(|(_, rss)| rss);
        reading.open_files = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .ok()
            .map(|dir| dir.count());
    }
    reading
}

/// A sample's value in Prometheus's text format.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .find_map(|value| value.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cluster_list_and_the_metrics() {
        let listed = parse_list("a1 127.0.0.1:18131 4242\nb1 127.0.0.1:18132 -\n\n");
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].pid, Some(4242));
        assert_eq!(listed[1].pid, None);
        assert_eq!(listed[1].address, "127.0.0.1:18132");

        let text = "# TYPE http_requests_in_flight gauge\nhttp_requests_in_flight 3\n\
                    database_pool_connections{state=\"idle\"} 2\n\
                    database_pool_connections{state=\"open\"} 5\n";
        assert_eq!(metric(text, "http_requests_in_flight"), Some(3.0));
        assert_eq!(
            metric(text, "database_pool_connections{state=\"open\"}"),
            Some(5.0)
        );
        assert_eq!(metric(text, "database_pool_size"), None);
    }
}
