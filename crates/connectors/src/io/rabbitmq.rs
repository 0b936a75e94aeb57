//! `rabbitmq` source and sink, with the earlier EventFlux engine's keys: `rabbitmq.host`,
//! `rabbitmq.port` (5672), `rabbitmq.vhost` ('/'), `rabbitmq.username` / `rabbitmq.password`
//! ('guest'). Source: `rabbitmq.queue`, `rabbitmq.prefetch` (unacknowledged messages in flight,
//! default 1 000: the broker's flow control), `rabbitmq.declare.queue` (declare it durable when
//! missing, default 'true'); messages are acknowledged only once the engine processed them and
//! the sinks confirmed their outputs. Sink: `rabbitmq.exchange`, `rabbitmq.routing.key`,
//! `rabbitmq.exchange.type` ('direct'), `rabbitmq.declare.exchange` ('true'),
//! `rabbitmq.persistent` ('true'); publisher confirms: a batch counts as sent once the broker
//! confirmed every message. Both reconnect with backoff.

use super::{backoff, with_retries, Counters, Options, Sink, Source, SourceCtx};
use bytes::Bytes;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Messages handed to the engine per delivery at most.
const PER_DELIVERY: usize = 1024;

fn uri(o: &Options<'_>) -> Result<String, String> {
    let host = o.required("rabbitmq.host")?;
    let port = o.get("rabbitmq.port").unwrap_or("5672");
    port.parse::<u16>().map_err(|_| {
        format!(
            "stream '{}': 'rabbitmq.port' must be a port number, found '{port}'",
            o.stream
        )
    })?;
    let vhost = o.get("rabbitmq.vhost").unwrap_or("/").replace('/', "%2f");
    let user = o.get("rabbitmq.username").unwrap_or("guest");
    let password = o.get("rabbitmq.password").unwrap_or("guest");
    Ok(format!("amqp://{user}:{password}@{host}:{port}/{vhost}"))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the RabbitMQ client runtime: {e}"))
}

async fn channel(uri: &str) -> Result<(Connection, Channel), String> {
    let conn = Connection::connect(uri, ConnectionProperties::default())
        .await
        .map_err(|e| format!("cannot connect to RabbitMQ: {e}"))?;
    let ch = conn
        .create_channel()
        .await
        .map_err(|e| format!("RabbitMQ channel: {e}"))?;
    Ok((conn, ch))
}

pub struct RabbitSource {
    uri: String,
    queue: String,
    prefetch: u16,
    declare: bool,
}

impl RabbitSource {
    pub fn new(o: &Options<'_>) -> Result<RabbitSource, String> {
        let prefetch = match o.get("rabbitmq.prefetch") {
            None => 1000,
            Some(p) => p.parse::<u16>().ok().filter(|&n| n > 0).ok_or_else(|| {
                format!(
                    "stream '{}': 'rabbitmq.prefetch' must be 1 to 65535, found '{p}'",
                    o.stream
                )
            })?,
        };
        Ok(RabbitSource {
            uri: uri(o)?,
            queue: o.required("rabbitmq.queue")?.to_string(),
            prefetch,
            declare: o.flag("rabbitmq.declare.queue", true)?,
        })
    }

    /// One connection's life: consume until it breaks (Err) or the app stops (Ok).
    async fn consume(&self, ctx: &mut SourceCtx) -> Result<(), String> {
        let (_conn, ch) = channel(&self.uri).await?;
        ch.basic_qos(self.prefetch, BasicQosOptions::default())
            .await
            .map_err(|e| format!("basic.qos: {e}"))?;
        if self.declare {
            ch.queue_declare(
                self.queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("declaring queue '{}': {e}", self.queue))?;
        }
        let mut consumer = ch
            .basic_consume(
                self.queue.as_str().into(),
                format!("eventflux-{}", ctx.name).as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("consuming queue '{}': {e}", self.queue))?;
        let (ack_tx, mut ack_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<lapin::Acker>>();
        let mut batch: Vec<lapin::message::Delivery> = Vec::new();
        while !ctx.stopped() {
            tokio::select! {
                acks = ack_rx.recv() => {
                    for a in acks.into_iter().flatten() {
                        a.ack(BasicAckOptions::default()).await.map_err(|e| format!("ack: {e}"))?;
                    }
                    continue;
                }
                next = tokio::time::timeout(Duration::from_millis(100), consumer.next()) => {
                    match next {
                        Ok(Some(Ok(d))) => batch.push(d),
                        Ok(Some(Err(e))) => return Err(format!("queue '{}': {e}", self.queue)),
                        Ok(None) => return Err(format!("queue '{}': the consumer was cancelled", self.queue)),
                        Err(_) => continue,
                    }
                }
            }
            while batch.len() < PER_DELIVERY {
                match futures_util::FutureExt::now_or_never(consumer.next()) {
                    Some(Some(Ok(d))) => batch.push(d),
                    _ => break,
                }
            }
            let taken = std::mem::take(&mut batch);
            let payloads: Vec<&[u8]> = taken.iter().map(|d| d.data.as_slice()).collect();
            let delivery = ctx.decode(&payloads, false);
            drop(payloads);
            let ackers: Vec<lapin::Acker> = taken.into_iter().map(|d| d.acker).collect();
            let tx = ack_tx.clone();
            if !ctx.send_acked(delivery, move || {
                let _ = tx.send(ackers);
            }) {
                return Ok(());
            }
        }
        Ok(())
    }
}

impl Source for RabbitSource {
    fn run(self: Box<Self>, mut ctx: SourceCtx) -> Result<(), String> {
        let rt = runtime()?;
        let mut failures = 0;
        while !ctx.stopped() {
            match rt.block_on(self.consume(&mut ctx)) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    if failures == 0 {
                        eprintln!("warning: rabbitmq source '{}': {e}; reconnecting", ctx.name);
                    }
                    failures += 1;
                    ctx.counters.add(&ctx.counters.reconnects, 1);
                    backoff(failures, &ctx.stop);
                }
            }
        }
        Ok(())
    }
}

pub struct RabbitSink {
    uri: String,
    exchange: String,
    routing_key: String,
    kind: ExchangeKind,
    declare: bool,
    persistent: bool,
    rt: tokio::runtime::Runtime,
    link: Option<(Connection, Channel)>,
}

impl RabbitSink {
    pub fn new(o: &Options<'_>) -> Result<RabbitSink, String> {
        let kind = match o
            .get("rabbitmq.exchange.type")
            .unwrap_or("direct")
            .to_ascii_lowercase()
            .as_str()
        {
            "direct" => ExchangeKind::Direct,
            "fanout" => ExchangeKind::Fanout,
            "topic" => ExchangeKind::Topic,
            "headers" => ExchangeKind::Headers,
            other => ExchangeKind::Custom(other.to_string()),
        };
        Ok(RabbitSink {
            uri: uri(o)?,
            exchange: o.required("rabbitmq.exchange")?.to_string(),
            routing_key: o.get("rabbitmq.routing.key").unwrap_or("").to_string(),
            kind,
            declare: o.flag("rabbitmq.declare.exchange", true)?,
            persistent: o.flag("rabbitmq.persistent", true)?,
            rt: runtime()?,
            link: None,
        })
    }

    fn try_send(&mut self, messages: &[Bytes]) -> Result<(), String> {
        if self.link.is_none() {
            let (uri, exchange, kind, declare) = (
                self.uri.clone(),
                self.exchange.clone(),
                self.kind.clone(),
                self.declare,
            );
            let link = self.rt.block_on(async move {
                let (conn, ch) = channel(&uri).await?;
                ch.confirm_select(ConfirmSelectOptions::default())
                    .await
                    .map_err(|e| format!("confirm.select: {e}"))?;
                if declare {
                    ch.exchange_declare(
                        exchange.as_str().into(),
                        kind,
                        ExchangeDeclareOptions {
                            durable: true,
                            ..Default::default()
                        },
                        FieldTable::default(),
                    )
                    .await
                    .map_err(|e| format!("declaring exchange '{exchange}': {e}"))?;
                }
                Ok::<_, String>((conn, ch))
            })?;
            self.link = Some(link);
        }
        let Some((_, ch)) = &self.link else {
            return Err("not connected".into());
        };
        let props = if self.persistent {
            BasicProperties::default().with_delivery_mode(2)
        } else {
            BasicProperties::default()
        };
        let (exchange, key) = (self.exchange.as_str(), self.routing_key.as_str());
        let result = self.rt.block_on(async {
            let mut confirms = Vec::with_capacity(messages.len());
            for m in messages {
                let c = ch
                    .basic_publish(
                        exchange.into(),
                        key.into(),
                        BasicPublishOptions::default(),
                        m,
                        props.clone(),
                    )
                    .await
                    .map_err(|e| format!("publishing to '{exchange}': {e}"))?;
                confirms.push(c);
            }
            for c in confirms {
                let confirmation = c.await.map_err(|e| format!("publisher confirm: {e}"))?;
                if !confirmation.is_ack() {
                    return Err(format!("the broker refused a message for '{exchange}'"));
                }
            }
            Ok(())
        });
        if result.is_err() {
            self.link = None;
        }
        result
    }
}

impl Sink for RabbitSink {
    fn send(
        &mut self,
        messages: &[Bytes],
        stop: &AtomicBool,
        counters: &Counters,
    ) -> Result<(), String> {
        with_retries("rabbitmq sink", stop, counters, || self.try_send(messages))
    }
}
