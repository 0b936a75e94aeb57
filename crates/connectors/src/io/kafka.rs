//! `kafka` source and sink (librdkafka through `rdkafka`): `kafka.bootstrap.servers`,
//! `kafka.topic` (a comma-separated list on sources), `kafka.group.id` (default
//! `eventflux_<stream>`), and any other `kafka.<key>` handed to the client as `<key>`.
//!
//! The source is a consumer-group member that commits offsets only once the engine processed
//! a delivery and every sink confirmed the outputs it caused (at-least-once end to end); the
//! client's own auto-commit is therefore off and not configurable. A new group starts at the
//! earliest offset unless `kafka.auto.offset.reset` says otherwise, so nothing published
//! before the app's first start is skipped. The sink produces with `acks=all` and counts a
//! batch as sent once every message's delivery report is positive; failed messages are sent
//! again with backoff. librdkafka reconnects by itself; its broker-down reports are counted as
//! reconnects.

use super::{with_retries, Counters, Options, Sink, Source, SourceCtx};
use bytes::Bytes;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;
use std::time::Duration;

/// Messages handed to the engine per delivery at most.
const PER_DELIVERY: usize = 1024;

/// Keys of ours under `kafka.` that are not client settings.
const OWN_KEYS: &[&str] = &["kafka.topic"];

/// The client configuration: every `kafka.<key>` but our own, as `<key>`, over `defaults`.
fn client_config(o: &Options<'_>, defaults: &[(&str, String)]) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    for (k, v) in defaults {
        cfg.set(*k, v.as_str());
    }
    for (k, v) in &o.plan.options {
        if let Some(client_key) = k.strip_prefix("kafka.") {
            if !OWN_KEYS.contains(&k.as_str()) {
                cfg.set(client_key, v.as_str());
            }
        }
    }
    cfg
}

/// Whether an error means the broker is unreachable (the client is reconnecting).
fn is_transport(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::NetworkException
                | RDKafkaErrorCode::Resolve
        )
    )
}

/// Partition offsets to commit: the next offset to read per (topic, partition).
type Positions = BTreeMap<(String, i32), i64>;

pub struct KafkaSource {
    config: ClientConfig,
    topics: Vec<String>,
}

impl KafkaSource {
    pub fn new(o: &Options<'_>) -> Result<KafkaSource, String> {
        let topics: Vec<String> = o
            .required("kafka.topic")?
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        if topics.is_empty() {
            return Err(format!("stream '{}': 'kafka.topic' is empty", o.stream));
        }
        o.required("kafka.bootstrap.servers")?;
        let config = client_config(
            o,
            &[
                ("group.id", format!("eventflux_{}", o.stream)),
                ("auto.offset.reset", "earliest".to_string()),
                ("client.id", format!("eventflux-{}", o.stream)),
            ],
        );
        Ok(KafkaSource { config, topics })
    }
}

/// Commits what the engine acknowledged (acks arrive in delivery order, so the latest
/// position per partition covers every earlier message).
fn commit(consumer: &BaseConsumer, acks: &Receiver<Positions>, mode: CommitMode, ctx: &SourceCtx) {
    let mut positions = Positions::new();
    while let Ok(p) = acks.try_recv() {
        positions.extend(p);
    }
    if positions.is_empty() {
        return;
    }
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), next) in &positions {
        if tpl
            .add_partition_offset(topic, *partition, Offset::Offset(*next))
            .is_err()
        {
            ctx.counters.add(&ctx.counters.errors, 1);
        }
    }
    // A commit refused after a rebalance only means the new owner reads those messages again.
    if consumer.commit(&tpl, mode).is_err() {
        ctx.counters.add(&ctx.counters.errors, 1);
    }
}

impl Source for KafkaSource {
    fn run(self: Box<Self>, mut ctx: SourceCtx) -> Result<(), String> {
        let mut config = self.config.clone();
        config
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        let consumer: BaseConsumer = config
            .create()
            .map_err(|e| format!("kafka source '{}': {e}", ctx.name))?;
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(|e| {
            format!(
                "kafka source '{}': subscribing to {topics:?}: {e}",
                ctx.name
            )
        })?;
        let (ack_tx, ack_rx): (Sender<Positions>, Receiver<Positions>) = channel();
        let mut outage = false;
        while !ctx.stopped() {
            commit(&consumer, &ack_rx, CommitMode::Async, &ctx);
            let mut batch = Vec::new();
            let mut next = consumer.poll(Duration::from_millis(100));
            loop {
                match next {
                    Some(Ok(m)) => {
                        outage = false;
                        batch.push(m);
                    }
                    Some(Err(e)) if is_transport(&e) => {
                        if !outage {
                            eprintln!("warning: kafka source '{}': {e}; reconnecting", ctx.name);
                            ctx.counters.add(&ctx.counters.reconnects, 1);
                        }
                        outage = true;
                    }
                    Some(Err(e)) => {
                        eprintln!("warning: kafka source '{}': {e}", ctx.name);
                        ctx.counters.add(&ctx.counters.errors, 1);
                    }
                    None => break,
                }
                if batch.len() >= PER_DELIVERY {
                    break;
                }
                next = consumer.poll(Duration::ZERO);
            }
            if batch.is_empty() {
                continue;
            }
            let payloads: Vec<&[u8]> = batch.iter().map(|m| m.payload().unwrap_or(&[])).collect();
            let delivery = ctx.decode(&payloads, false);
            let mut positions = Positions::new();
            for m in &batch {
                positions.insert((m.topic().to_string(), m.partition()), m.offset() + 1);
            }
            drop(payloads);
            drop(batch);
            let tx = ack_tx.clone();
            if !ctx.send_acked(delivery, move || {
                let _ = tx.send(positions);
            }) {
                break;
            }
        }
        commit(&consumer, &ack_rx, CommitMode::Sync, &ctx);
        Ok(())
    }
}

/// Delivery reports of the batch in flight: the indexes of the messages that failed.
#[derive(Default)]
struct Reports {
    failed: Mutex<Vec<(usize, String)>>,
}

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, index: usize) {
        if let Err((e, _)) = result {
            if let Ok(mut failed) = self.failed.lock() {
                failed.push((index, e.to_string()));
            }
        }
    }
}

pub struct KafkaSink {
    producer: BaseProducer<Reports>,
    topic: String,
}

impl KafkaSink {
    pub fn new(o: &Options<'_>) -> Result<KafkaSink, String> {
        let topic = o.required("kafka.topic")?.trim().to_string();
        o.required("kafka.bootstrap.servers")?;
        let producer = client_config(
            o,
            &[
                ("acks", "all".to_string()),
                // A message the broker does not confirm in this time is reported failed and
                // sent again by the sink's retry loop (with backoff, counted).
                ("message.timeout.ms", "10000".to_string()),
                ("linger.ms", "1".to_string()),
                ("client.id", format!("eventflux-{}", o.stream)),
            ],
        )
        .create_with_context(Reports::default())
        .map_err(|e| format!("kafka sink '{}': {e}", o.stream))?;
        Ok(KafkaSink { producer, topic })
    }

    /// Sends the messages of `pending` (indexes into `messages`) and waits for their reports;
    /// `pending` keeps the ones that failed.
    fn try_send(
        &self,
        messages: &[Bytes],
        pending: &mut Vec<usize>,
        stop: &AtomicBool,
    ) -> Result<(), String> {
        for &i in pending.iter() {
            let mut record: BaseRecord<'_, [u8], [u8], usize> =
                BaseRecord::with_opaque_to(&self.topic, i).payload(&messages[i][..]);
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        self.producer.poll(Duration::from_millis(10));
                    }
                    Err((e, _)) => {
                        self.producer.poll(Duration::ZERO);
                        return Err(format!("producing to '{}': {e}", self.topic));
                    }
                }
            }
        }
        while self.producer.in_flight_count() > 0 {
            if stop.load(Ordering::Relaxed) {
                return Err("stopped before the broker confirmed".into());
            }
            self.producer.poll(Duration::from_millis(50));
        }
        let failed = match self.producer.context().failed.lock() {
            Ok(mut f) => std::mem::take(&mut *f),
            Err(_) => return Err("delivery reports lost".into()),
        };
        *pending = failed.iter().map(|(i, _)| *i).collect();
        match failed.first() {
            None => Ok(()),
            Some((_, e)) => Err(format!(
                "{} message(s) not confirmed by the broker on '{}': {e}",
                failed.len(),
                self.topic
            )),
        }
    }
}

impl Sink for KafkaSink {
    fn send(
        &mut self,
        messages: &[Bytes],
        stop: &AtomicBool,
        counters: &Counters,
    ) -> Result<(), String> {
        let mut pending: Vec<usize> = (0..messages.len()).collect();
        with_retries("kafka sink", stop, counters, || {
            self.try_send(messages, &mut pending, stop)
        })
    }
}
