//! `nats` source and sink (`nats.url`, `nats.subject`, `nats.queue`; `nats.jetstream = 'true'`
//! with `nats.stream` and `nats.durable`). Core NATS is at-most-once by nature; with JetStream
//! the source reads a durable pull consumer with explicit acks (acked only once the engine
//! processed the messages and the sinks confirmed their outputs) and the sink publishes with
//! publish acks and a `Nats-Msg-Id` header, so the broker drops duplicates of a retried publish.
//! Each connector drives the async client from its own thread with a private runtime; the
//! client reconnects by itself (subscriptions resume).

use super::{with_retries, Counters, Options, Sink, Source, SourceCtx};
use async_nats::jetstream;
use bytes::Bytes;
use futures_util::StreamExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Messages handed to the engine per delivery at most.
const PER_DELIVERY: usize = 1024;

/// Messages a core subscription buffers at most before the client drops them.
const SUBSCRIPTION_CAPACITY: usize = 1 << 18;

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the NATS client runtime: {e}"))
}

async fn connect(url: &str) -> Result<async_nats::Client, String> {
    async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        // Core NATS drops messages for a subscriber that falls this far behind (counted by
        // the server as a slow consumer): room for bursts while the engine catches up.
        .subscription_capacity(SUBSCRIPTION_CAPACITY)
        .retry_on_initial_connect()
        .connect(url)
        .await
        .map_err(|e| format!("cannot connect to NATS at {url}: {e}"))
}

/// The JetStream stream name for a subject when `nats.stream` is not given.
fn default_stream(subject: &str) -> String {
    subject
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .to_ascii_uppercase()
}

pub struct NatsSource {
    url: String,
    subject: String,
    queue: Option<String>,
    jetstream: bool,
    stream: String,
    durable: String,
}

impl NatsSource {
    pub fn new(o: &Options<'_>) -> Result<NatsSource, String> {
        let subject = o.required("nats.subject")?.to_string();
        Ok(NatsSource {
            url: o.required("nats.url")?.to_string(),
            queue: o.get("nats.queue").map(str::to_string),
            jetstream: o.flag("nats.jetstream", false)?,
            stream: o
                .get("nats.stream")
                .map_or_else(|| default_stream(&subject), str::to_string),
            durable: o
                .get("nats.durable")
                .map_or_else(|| format!("eventflux_{}", o.stream), str::to_string),
            subject,
        })
    }

    async fn run_core(
        &self,
        client: async_nats::Client,
        ctx: &mut SourceCtx,
    ) -> Result<(), String> {
        let mut sub = match &self.queue {
            Some(q) => {
                client
                    .queue_subscribe(self.subject.clone(), q.clone())
                    .await
            }
            None => client.subscribe(self.subject.clone()).await,
        }
        .map_err(|e| format!("cannot subscribe to '{}': {e}", self.subject))?;
        let mut batch: Vec<async_nats::Message> = Vec::new();
        while !ctx.stopped() {
            match tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
                Ok(Some(m)) => batch.push(m),
                Ok(None) => return Ok(()),
                Err(_) => continue,
            }
            // Whatever else is already here joins the same delivery.
            while batch.len() < PER_DELIVERY {
                match futures_util::FutureExt::now_or_never(sub.next()) {
                    Some(Some(m)) => batch.push(m),
                    _ => break,
                }
            }
            let payloads: Vec<&[u8]> = batch.iter().map(|m| m.payload.as_ref()).collect();
            if !ctx.deliver(&payloads, None, false) {
                return Ok(());
            }
            batch.clear();
        }
        Ok(())
    }

    async fn run_jetstream(
        &self,
        client: async_nats::Client,
        ctx: &mut SourceCtx,
    ) -> Result<(), String> {
        let js = jetstream::new(client);
        let stream = js
            .get_or_create_stream(jetstream::stream::Config {
                name: self.stream.clone(),
                subjects: vec![self.subject.clone()],
                ..Default::default()
            })
            .await
            .map_err(|e| format!("JetStream stream '{}': {e}", self.stream))?;
        let consumer = stream
            .get_or_create_consumer(
                &self.durable,
                jetstream::consumer::pull::Config {
                    durable_name: Some(self.durable.clone()),
                    filter_subject: self.subject.clone(),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    // Messages a stopped instance took but did not acknowledge come back after
                    // this long; a running instance acknowledges far sooner.
                    ack_wait: Duration::from_secs(10),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| format!("JetStream consumer '{}': {e}", self.durable))?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| format!("JetStream consumer '{}': {e}", self.durable))?;
        // Acks come back from the engine thread once a delivery is processed.
        let (ack_tx, mut ack_rx) =
            tokio::sync::mpsc::unbounded_channel::<Vec<jetstream::Message>>();
        let mut batch: Vec<jetstream::Message> = Vec::new();
        while !ctx.stopped() {
            tokio::select! {
                acks = ack_rx.recv() => {
                    for m in acks.into_iter().flatten() {
                        if m.ack().await.is_err() {
                            ctx.counters.add(&ctx.counters.errors, 1);
                        }
                    }
                    continue;
                }
                next = tokio::time::timeout(Duration::from_millis(100), messages.next()) => {
                    match next {
                        Ok(Some(Ok(m))) => batch.push(m),
                        Ok(Some(Err(_))) => {
                            ctx.counters.add(&ctx.counters.reconnects, 1);
                            continue;
                        }
                        Ok(None) => return Ok(()),
                        Err(_) => continue,
                    }
                }
            }
            while batch.len() < PER_DELIVERY {
                match futures_util::FutureExt::now_or_never(messages.next()) {
                    Some(Some(Ok(m))) => batch.push(m),
                    _ => break,
                }
            }
            let taken = std::mem::take(&mut batch);
            let payloads: Vec<&[u8]> = taken.iter().map(|m| m.payload.as_ref()).collect();
            let delivery = ctx.decode(&payloads, false);
            drop(payloads);
            // The messages travel with their delivery and come back through `ack_tx`.
            let tx = ack_tx.clone();
            if !ctx.send_acked(delivery, move || {
                let _ = tx.send(taken);
            }) {
                return Ok(());
            }
        }
        Ok(())
    }
}

impl Source for NatsSource {
    fn run(self: Box<Self>, mut ctx: SourceCtx) -> Result<(), String> {
        let rt = runtime()?;
        rt.block_on(async {
            let client = connect(&self.url).await?;
            if self.jetstream {
                self.run_jetstream(client, &mut ctx).await
            } else {
                self.run_core(client, &mut ctx).await
            }
        })
    }
}

pub struct NatsSink {
    url: String,
    subject: String,
    jetstream: bool,
    stream: String,
    rt: tokio::runtime::Runtime,
    client: Option<async_nats::Client>,
    /// Prefix and sequence of `Nats-Msg-Id` (unique per sink instance).
    id_prefix: String,
    seq: AtomicU64,
}

impl NatsSink {
    pub fn new(o: &Options<'_>) -> Result<NatsSink, String> {
        let subject = o.required("nats.subject")?.to_string();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Ok(NatsSink {
            url: o.required("nats.url")?.to_string(),
            jetstream: o.flag("nats.jetstream", false)?,
            stream: o
                .get("nats.stream")
                .map_or_else(|| default_stream(&subject), str::to_string),
            subject,
            rt: runtime()?,
            client: None,
            id_prefix: format!("{}-{nanos:x}-{}", o.stream, std::process::id()),
            seq: AtomicU64::new(0),
        })
    }

    fn try_send(&mut self, messages: &[Bytes], first_id: u64) -> Result<(), String> {
        // The JetStream context is made on this thread: it needs the runtime entered.
        let _entered = self.rt.enter();
        let url = self.url.clone();
        let client = match &self.client {
            Some(c) => c.clone(),
            None => {
                let c = self.rt.block_on(connect(&url))?;
                if self.jetstream {
                    let js = jetstream::new(c.clone());
                    self.rt
                        .block_on(js.get_or_create_stream(jetstream::stream::Config {
                            name: self.stream.clone(),
                            subjects: vec![self.subject.clone()],
                            ..Default::default()
                        }))
                        .map_err(|e| format!("JetStream stream '{}': {e}", self.stream))?;
                }
                self.client = Some(c.clone());
                c
            }
        };
        let subject = self.subject.clone();
        let jetstream = self.jetstream;
        let prefix = self.id_prefix.clone();
        self.rt.block_on(async move {
            if jetstream {
                let js = jetstream::new(client);
                let mut pending = Vec::with_capacity(messages.len());
                for (i, m) in messages.iter().enumerate() {
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert(
                        "Nats-Msg-Id",
                        format!("{prefix}-{}", first_id + i as u64).as_str(),
                    );
                    let ack = js
                        .publish_with_headers(subject.clone(), headers, m.clone())
                        .await
                        .map_err(|e| format!("publishing to '{subject}': {e}"))?;
                    pending.push(ack);
                }
                for ack in pending {
                    ack.await.map_err(|e| {
                        format!("JetStream did not confirm a message on '{subject}': {e}")
                    })?;
                }
                Ok(())
            } else {
                for m in messages {
                    client
                        .publish(subject.clone(), m.clone())
                        .await
                        .map_err(|e| format!("publishing to '{subject}': {e}"))?;
                }
                client
                    .flush()
                    .await
                    .map_err(|e| format!("publishing to '{subject}': {e}"))
            }
        })
    }
}

impl Sink for NatsSink {
    fn send(
        &mut self,
        messages: &[Bytes],
        stop: &AtomicBool,
        counters: &Counters,
    ) -> Result<(), String> {
        let first_id = self.seq.fetch_add(messages.len() as u64, Ordering::Relaxed);
        // A retried batch keeps its message ids: JetStream drops what it already has.
        with_retries("nats sink", stop, counters, || {
            self.try_send(messages, first_id)
        })
    }
}
