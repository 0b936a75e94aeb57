//! `mqtt` source and sink (`mqtt.url` 'mqtt://host:1883', `mqtt.topic` — wildcards on sources —
//! `mqtt.qos` 0 | 1 | 2 (default 1), `mqtt.client_id`, `mqtt.retain` on sinks). The source keeps
//! a persistent session (clean session off, a stable client id) and acknowledges a QoS ≥ 1
//! message only once the engine processed it and the sinks confirmed its outputs, so the broker
//! redelivers what a stopped instance did not finish. The sink returns once the broker
//! acknowledged every QoS ≥ 1 message (PUBACK / PUBCOMP), retrying while it is away.

use super::{backoff, Counters, Options, Sink, Source, SourceCtx};
use bytes::Bytes;
use rumqttc::{Client, Connection, Event, MqttOptions, Packet, QoS, RecvTimeoutError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Messages handed to the engine per delivery at most.
const PER_DELIVERY: usize = 1024;

fn options(o: &Options<'_>, default_id: String) -> Result<(MqttOptions, String, QoS), String> {
    let url = o.required("mqtt.url")?;
    let rest = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
        .ok_or_else(|| {
            format!(
                "stream '{}': 'mqtt.url' must be mqtt://host:port, found '{url}'",
                o.stream
            )
        })?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h.to_string(),
            p.parse::<u16>()
                .map_err(|_| format!("stream '{}': bad port in 'mqtt.url' '{url}'", o.stream))?,
        ),
        None => (rest.to_string(), 1883),
    };
    let qos = match o.get("mqtt.qos").unwrap_or("1") {
        "0" => QoS::AtMostOnce,
        "1" => QoS::AtLeastOnce,
        "2" => QoS::ExactlyOnce,
        other => {
            return Err(format!(
                "stream '{}': 'mqtt.qos' must be 0, 1 or 2, found '{other}'",
                o.stream
            ))
        }
    };
    let id = o.get("mqtt.client_id").map_or(default_id, str::to_string);
    let mut opts = MqttOptions::new(id, host, port);
    opts.set_keep_alive(Duration::from_secs(5))
        .set_clean_session(false)
        .set_max_packet_size(1 << 20, 1 << 20);
    Ok((opts, o.required("mqtt.topic")?.to_string(), qos))
}

pub struct MqttSource {
    opts: MqttOptions,
    topic: String,
    qos: QoS,
}

impl MqttSource {
    pub fn new(o: &Options<'_>) -> Result<MqttSource, String> {
        let (mut opts, topic, qos) = options(o, format!("eventflux-{}", o.stream))?;
        opts.set_manual_acks(true);
        Ok(MqttSource { opts, topic, qos })
    }
}

impl Source for MqttSource {
    fn run(self: Box<Self>, mut ctx: SourceCtx) -> Result<(), String> {
        let (client, mut conn) = Client::new(self.opts.clone(), 1024);
        let (ack_tx, ack_rx) = mpsc::channel::<Vec<rumqttc::Publish>>();
        let mut batch: Vec<rumqttc::Publish> = Vec::new();
        let mut failures = 0;
        while !ctx.stopped() {
            for p in ack_rx.try_iter().flatten() {
                let _ = client.ack(&p);
            }
            match conn.recv_timeout(Duration::from_millis(100)) {
                Ok(Ok(Event::Incoming(Packet::Publish(p)))) => batch.push(p),
                Ok(Ok(Event::Incoming(Packet::ConnAck(c)))) => {
                    if failures > 0 {
                        ctx.counters.add(&ctx.counters.reconnects, 1);
                    }
                    failures = 0;
                    if !c.session_present {
                        let _ = client.subscribe(self.topic.clone(), self.qos);
                    }
                    continue;
                }
                Ok(Ok(_)) | Err(RecvTimeoutError::Timeout) => continue,
                Ok(Err(e)) => {
                    if failures == 0 {
                        eprintln!("warning: mqtt source '{}': {e}; reconnecting", ctx.name);
                    }
                    failures += 1;
                    backoff(failures, &ctx.stop);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
            while batch.len() < PER_DELIVERY {
                match conn.try_recv() {
                    Ok(Ok(Event::Incoming(Packet::Publish(p)))) => batch.push(p),
                    Ok(Ok(_)) => {}
                    _ => break,
                }
            }
            let taken = std::mem::take(&mut batch);
            let payloads: Vec<&[u8]> = taken.iter().map(|p| p.payload.as_ref()).collect();
            let d = ctx.decode(&payloads, false);
            drop(payloads);
            let tx = ack_tx.clone();
            if !ctx.send_acked(d, move || {
                let _ = tx.send(taken);
            }) {
                return Ok(());
            }
        }
        Ok(())
    }
}

pub struct MqttSink {
    client: Client,
    topic: String,
    qos: QoS,
    retain: bool,
    /// Broker acknowledgements (PUBACK for QoS 1, PUBCOMP for QoS 2) seen by the connection
    /// thread, and the publishes that wait for one.
    acked: Arc<AtomicU64>,
    published: u64,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MqttSink {
    pub fn new(o: &Options<'_>) -> Result<MqttSink, String> {
        let (opts, topic, qos) = options(o, format!("eventflux-sink-{}", o.stream))?;
        let retain = o.flag("mqtt.retain", false)?;
        let (client, conn) = Client::new(opts, 1024);
        let acked = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (acked, stop) = (acked.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("mqtt-{}", o.stream))
                .spawn(move || poll_connection(conn, &acked, &stop))
                .map_err(|e| e.to_string())?
        };
        Ok(MqttSink {
            client,
            topic,
            qos,
            retain,
            acked,
            published: 0,
            stop,
            thread: Some(thread),
        })
    }
}

/// Drives a sink's connection: counts broker acknowledgements, reconnects after errors.
fn poll_connection(mut conn: Connection, acked: &AtomicU64, stop: &AtomicBool) {
    let mut failures = 0;
    while !stop.load(Ordering::Relaxed) {
        match conn.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(Event::Incoming(Packet::PubAck(_) | Packet::PubComp(_)))) => {
                acked.fetch_add(1, Ordering::Release);
            }
            Ok(Ok(_)) => failures = 0,
            Ok(Err(_)) => {
                failures += 1;
                backoff(failures, stop);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

impl Sink for MqttSink {
    fn send(
        &mut self,
        messages: &[Bytes],
        stop: &AtomicBool,
        _counters: &Counters,
    ) -> Result<(), String> {
        for m in messages {
            self.client
                .publish(self.topic.clone(), self.qos, self.retain, m.to_vec())
                .map_err(|e| format!("publishing to '{}': {e}", self.topic))?;
        }
        if self.qos == QoS::AtMostOnce {
            return Ok(());
        }
        self.published += messages.len() as u64;
        // The client keeps unacknowledged publishes and sends them again after a reconnect;
        // wait for the broker's acknowledgements.
        let start = Instant::now();
        let mut warned = false;
        while self.acked.load(Ordering::Acquire) < self.published {
            if stop.load(Ordering::Relaxed) {
                return Err(format!(
                    "{} messages to '{}' not acknowledged by the broker",
                    self.published - self.acked.load(Ordering::Acquire),
                    self.topic
                ));
            }
            if !warned && start.elapsed() > Duration::from_secs(5) {
                eprintln!(
                    "warning: mqtt sink: waiting for the broker to acknowledge messages on '{}'",
                    self.topic
                );
                warned = true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }
}

impl Drop for MqttSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.client.disconnect();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
