//! The name this instance shows in the page footer and the X-Served-By header.

use std::time::Duration;

use crate::config::CommonSettings;

/// INSTANCE_ID when set; else, only where the deployment allows the metadata service, the
/// EC2 instance id from IMDSv2; else the host name.
pub async fn name(configured: Option<&str>, common: &CommonSettings) -> String {
    if let Some(name) = configured.map(str::trim).filter(|n| !n.is_empty()) {
        return name.to_owned();
    }
    if common.aws_instance_metadata {
        match ec2_instance_id(&common.ec2_metadata_endpoint).await {
            Ok(id) => return id,
            Err(error) => {
                tracing::warn!(%error, "no instance id from the metadata service; using the host name")
            }
        }
    }
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// IMDSv2: a session token first (PUT), then the instance id with it; one second each.
async fn ec2_instance_id(endpoint: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .no_proxy()
        .build()?;
    let endpoint = endpoint.trim_end_matches('/');
    let token = client
        .put(format!("{endpoint}/latest/api/token"))
        .header("X-aws-ec2-metadata-token-ttl-seconds", "60")
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let id = client
        .get(format!("{endpoint}/latest/meta-data/instance-id"))
        .header("X-aws-ec2-metadata-token", token)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let id = id.trim();
    anyhow::ensure!(
        !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "unexpected instance id {id:?}"
    );
    Ok(id.to_owned())
}
