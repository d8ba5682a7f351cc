//! A TCP proxy on loopback that delays every answer by a set time: put between the instances
//! and the database (cluster.sh database-through), it makes every database round trip that
//! much slower, as a congested or distant link would, while the database itself is fine.
//!
//! Bytes from the server are held until `delay` after they arrived, then passed on in order
//! (a latency line, not a throttle: a round trip takes `delay` more whatever its size).
//! Bytes to the server pass at once. The delay can change while connections are open.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Chunks held at once per connection: a server that sends faster waits (no unbounded
/// buffer in the proxy).
const CHUNKS_IN_FLIGHT: usize = 256;

pub struct DelayProxy {
    address: SocketAddr,
    delay_ms: Arc<AtomicU64>,
    accept: JoinHandle<()>,
}

impl DelayProxy {
    /// Listens on a free loopback port and forwards every connection to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<DelayProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let delay_ms = Arc::new(AtomicU64::new(0));
        let delay = delay_ms.clone();
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let delay = delay.clone();
                tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(target).await {
                        connect(inbound, outbound, delay).await;
                    }
                });
            }
        });
        Ok(DelayProxy {
            address,
            delay_ms,
            accept,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// From now on every answer is held this long (zero: passed at once).
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn connect(client: TcpStream, server: TcpStream, delay_ms: Arc<AtomicU64>) {
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (from_client, to_client) = client.into_split();
    let (from_server, to_server) = server.into_split();
    let (chunks, held) = mpsc::channel(CHUNKS_IN_FLIGHT);
    tokio::select! {
        () = pass(from_client, to_server) => {}
        () = async {
            tokio::join!(receive(from_server, chunks, delay_ms), release(held, to_client));
        } => {}
    }
}

/// Client to server: at once.
async fn pass(mut from: OwnedReadHalf, mut to: OwnedWriteHalf) {
    let _ = tokio::io::copy(&mut from, &mut to).await;
    let _ = to.shutdown().await;
}

/// Server to client, first half: each chunk with the moment it may go on.
async fn receive(
    mut from: OwnedReadHalf,
    chunks: mpsc::Sender<(Instant, Vec<u8>)>,
    delay_ms: Arc<AtomicU64>,
) {
    let mut buffer = vec![0; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buffer).await {
        let due = Instant::now() + Duration::from_millis(delay_ms.load(Ordering::SeqCst));
        if chunks.send((due, buffer[..n].to_vec())).await.is_err() {
            return;
        }
    }
}

/// Server to client, second half: each chunk once it is due.
async fn release(mut held: mpsc::Receiver<(Instant, Vec<u8>)>, mut to: OwnedWriteHalf) {
    while let Some((due, chunk)) = held.recv().await {
        tokio::time::sleep_until(due).await;
        if to.write_all(&chunk).await.is_err() {
            return;
        }
    }
    let _ = to.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that answers each line with the same line.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut from, mut to) = stream.into_split();
                    let _ = tokio::io::copy(&mut from, &mut to).await;
                });
            }
        });
        address
    }

    async fn round_trip(stream: &mut TcpStream, message: &[u8]) -> (Vec<u8>, Duration) {
        let started = Instant::now();
        stream.write_all(message).await.unwrap();
        let mut answer = vec![0; message.len()];
        stream.read_exact(&mut answer).await.unwrap();
        (answer, started.elapsed())
    }

    #[tokio::test]
    async fn answers_come_back_whole_and_in_order_at_least_the_delay_later() {
        let proxy = DelayProxy::start(echo_server().await).await.unwrap();
        let mut stream = TcpStream::connect(proxy.address()).await.unwrap();
        let (answer, _) = round_trip(&mut stream, b"fast\n").await;
        assert_eq!(answer, b"fast\n");

        proxy.set_delay(Duration::from_millis(150));
        let long: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let (answer, took) = round_trip(&mut stream, &long).await;
        assert_eq!(answer, long, "every byte, in order");
        assert!(took >= Duration::from_millis(150), "held: {took:?}");

        proxy.set_delay(Duration::ZERO);
        let (answer, _) = round_trip(&mut stream, b"fast again\n").await;
        assert_eq!(answer, b"fast again\n");
    }
}
