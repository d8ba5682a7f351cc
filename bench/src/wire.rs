//! A lean HTTP/1.1 client for the throughput scenarios: one keep-alive connection, requests
//! written one after another, nothing else (no pool, no cookie jar, no redirects). Its cost
//! per request is close to wrk's, so that the figures measure the server rather than the
//! load generator, which shares the machine's cores with it.

use std::time::{Duration, Instant};

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::shop::{Outcome, summarize};

/// One connection to the server, opened again when the server closed it.
pub struct Connection {
    authority: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// One request: its method, path, extra headers and body.
pub struct Request<'a> {
    pub method: hyper::Method,
    pub path: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Bytes,
}

impl<'a> Request<'a> {
    pub fn get(path: &'a str, headers: &'a [(&'a str, &'a str)]) -> Self {
        Self {
            method: hyper::Method::GET,
            path,
            headers,
            body: Bytes::new(),
        }
    }

    pub fn post(path: &'a str, headers: &'a [(&'a str, &'a str)], body: Bytes) -> Self {
        Self {
            method: hyper::Method::POST,
            path,
            headers,
            body,
        }
    }
}

impl Connection {
    /// A connection to `base` (http://host:port), opened at the first request.
    pub fn to(base: &str) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(base).with_context(|| format!("{base}: not a URL"))?;
        let host = url.host_str().context("no host")?;
        let port = url.port_or_known_default().context("no port")?;
        Ok(Self {
            authority: format!("{host}:{port}"),
            sender: None,
        })
    }

    async fn open(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let stream = tokio::net::TcpStream::connect(&self.authority).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake")?;
        tokio::spawn(connection);
        Ok(sender)
    }

    /// Sends one request and reads the whole answer, within `timeout`; never fails: the
    /// outcome says what happened.
    pub async fn send(
        &mut self,
        request: Request<'_>,
        expected: u16,
        timeout: Duration,
    ) -> Outcome {
        let start = Instant::now();
        let answer = tokio::time::timeout(timeout, self.exchange(request)).await;
        let latency = start.elapsed();
        let failed = |error: String| Outcome {
            status: None,
            latency,
            error: Some(error),
            served_by: None,
            stale: false,
            body: Vec::new(),
        };
        match answer {
            Err(_) => {
                self.sender = None;
                failed(format!("no answer within {} s", timeout.as_secs()))
            }
            Ok(Err(e)) => {
                self.sender = None;
                failed(format!("{e:#}"))
            }
            Ok(Ok((status, body))) => Outcome {
                status: Some(status),
                latency,
                error: (status != expected).then(|| summarize(&body)),
                served_by: None,
                stale: false,
                body: body.to_vec(),
            },
        }
    }

    async fn exchange(&mut self, request: Request<'_>) -> anyhow::Result<(u16, Bytes)> {
        let sender = match &mut self.sender {
            Some(sender) if !sender.is_closed() => sender,
            _ => self.sender.insert(self.open().await?),
        };
        sender.ready().await.context("connection")?;
        let mut builder = hyper::Request::builder()
            .method(request.method)
            .uri(request.path)
            .header(hyper::header::HOST, &self.authority);
        for (name, value) in request.headers {
            builder = builder.header(*name, *value);
        }
        let response = sender
            .send_request(builder.body(Full::new(request.body))?)
            .await
            .context("request")?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.context("body")?;
        Ok((status, body.to_bytes()))
    }
}
