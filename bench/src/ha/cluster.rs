//! Runs the cluster script's commands, with their output in the run's log as it comes, so a
//! reader sees each fault beside the load it met.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Instant;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader, Lines};

use super::state::Shared;

/// Runs `SCRIPT ARGS` to its end; the error says what failed.
pub async fn run(shared: &Shared, script: &Path, args: &[&str]) -> Result<(), String> {
    let what = format!("{} {}", script.display(), args.join(" "));
    shared.log(&format!("$ {what}"));
    let started = Instant::now();
    let status = spawn_and_echo(shared, script, args)
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    shared.log(&format!(
        "  ({} {:.1} s)",
        if status.success() {
            "done in"
        } else {
            "FAILED after"
        },
        started.elapsed().as_secs_f64()
    ));
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "cluster.sh {} exited with {status}",
            args.join(" ")
        ))
    }
}

async fn spawn_and_echo(
    shared: &Shared,
    script: &Path,
    args: &[&str],
) -> std::io::Result<ExitStatus> {
    let mut child = tokio::process::Command::new(script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
    let stderr = BufReader::new(child.stderr.take().expect("piped")).lines();
    echo(shared, stdout, stderr).await;
    child.wait().await
}

/// Logs both streams' lines, interleaved as they come, until both end.
async fn echo(
    shared: &Shared,
    mut stdout: Lines<impl AsyncBufRead + Unpin>,
    mut stderr: Lines<impl AsyncBufRead + Unpin>,
) {
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        tokio::select! {
            line = stdout.next_line(), if out_open => match line {
                Ok(Some(line)) => shared.log(&format!("  {line}")),
                _ => out_open = false,
            },
            line = stderr.next_line(), if err_open => match line {
                Ok(Some(line)) => shared.log(&format!("  {line}")),
                _ => err_open = false,
            },
        }
    }
}

/// What `SCRIPT ARGS` prints (a query such as `primary-address`, not a fault: not logged).
pub async fn output(script: &Path, args: &[&str]) -> Result<String, String> {
    let what = format!("{} {}", script.display(), args.join(" "));
    let output = tokio::process::Command::new(script)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "{what} exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}
