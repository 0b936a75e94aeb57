//! `redis` source and sink. Source: `redis.channel` (pub/sub; a channel with `*` or `?` is a
//! pattern; at-most-once, as Redis pub/sub is) or `redis.stream` read through the consumer group
//! `redis.group` (created when missing) as consumer `redis.consumer`, with `XACK` only once the
//! engine processed the entries and the sinks confirmed their outputs; entries this consumer
//! read but did not acknowledge before a restart are read again first. A stream entry's message
//! is its `payload` field. Sink: `PUBLISH` to `redis.channel` or `XADD` (field `payload`) to
//! `redis.stream`, one pipelined round trip per batch. `redis.url` defaults to
//! `redis://127.0.0.1:6379/`. Lost connections are reopened with backoff.

use super::{backoff, with_retries, Ack, Counters, Options, Sink, Source, SourceCtx};
use bytes::Bytes;
use redis::streams::{StreamReadOptions, StreamReadReply};
use redis::Commands;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::Duration;

const DEFAULT_URL: &str = "redis://127.0.0.1:6379/";

enum Target {
    Channel(String),
    Stream(String),
}

fn target(o: &Options<'_>) -> Result<Target, String> {
    match (o.get("redis.channel"), o.get("redis.stream")) {
        (Some(c), None) => Ok(Target::Channel(c.to_string())),
        (None, Some(s)) => Ok(Target::Stream(s.to_string())),
        _ => Err(format!(
            "stream '{}': a redis connector needs exactly one of 'redis.channel' and 'redis.stream'",
            o.stream
        )),
    }
}

fn client(o: &Options<'_>) -> Result<redis::Client, String> {
    let url = o.get("redis.url").unwrap_or(DEFAULT_URL);
    redis::Client::open(url)
        .map_err(|e| format!("stream '{}': bad redis.url '{url}': {e}", o.stream))
}

pub struct RedisSource {
    client: redis::Client,
    target: Target,
    group: String,
    consumer: String,
}

impl RedisSource {
    pub fn new(o: &Options<'_>) -> Result<RedisSource, String> {
        let target = target(o)?;
        if matches!(target, Target::Channel(_)) && o.get("redis.group").is_some() {
            return Err(format!(
                "stream '{}': 'redis.group' applies to 'redis.stream' sources",
                o.stream
            ));
        }
        Ok(RedisSource {
            client: client(o)?,
            target,
            group: o
                .get("redis.group")
                .map_or_else(|| "eventflux".to_string(), str::to_string),
            consumer: o
                .get("redis.consumer")
                .map_or_else(|| format!("eventflux-{}", o.stream), str::to_string),
        })
    }

    /// A connection, or None once a failed attempt has been waited out (reported once per
    /// outage).
    fn connection(&self, attempt: &mut u32, ctx: &SourceCtx) -> Option<redis::Connection> {
        match self.client.get_connection() {
            Ok(c) => Some(c),
            Err(e) => {
                if *attempt == 0 {
                    eprintln!("warning: redis source '{}': {e}; reconnecting", ctx.name);
                }
                *attempt += 1;
                backoff(*attempt, &ctx.stop);
                None
            }
        }
    }

    fn run_channel(&self, channel: &str, ctx: &mut SourceCtx) -> Result<(), String> {
        let mut attempt = 0;
        while !ctx.stopped() {
            let Some(mut con) = self.connection(&mut attempt, ctx) else {
                continue;
            };
            let mut pubsub = con.as_pubsub();
            let pattern = channel.contains(['*', '?']);
            let subscribed = if pattern {
                pubsub.psubscribe(channel)
            } else {
                pubsub.subscribe(channel)
            };
            if subscribed.is_err()
                || pubsub
                    .set_read_timeout(Some(Duration::from_millis(100)))
                    .is_err()
            {
                attempt += 1;
                backoff(attempt, &ctx.stop);
                continue;
            }
            if attempt > 0 {
                ctx.counters.add(&ctx.counters.reconnects, 1);
            }
            attempt = 0;
            while !ctx.stopped() {
                match pubsub.get_message() {
                    Ok(m) => {
                        let payload = m.get_payload_bytes().to_vec();
                        if !ctx.deliver(&[&payload], None, false) {
                            return Ok(());
                        }
                    }
                    Err(e) if e.is_timeout() => {}
                    Err(_) => break,
                }
            }
        }
        Ok(())
    }

    fn run_stream(&self, key: &str, ctx: &mut SourceCtx) -> Result<(), String> {
        let (ack_tx, ack_rx) = mpsc::channel::<Vec<String>>();
        let mut attempt = 0;
        while !ctx.stopped() {
            let Some(mut con) = self.connection(&mut attempt, ctx) else {
                continue;
            };
            let _ = con.set_read_timeout(Some(Duration::from_secs(5)));
            let created: redis::RedisResult<()> = con.xgroup_create_mkstream(key, &self.group, "0");
            if let Err(e) = created {
                if e.code() != Some("BUSYGROUP") {
                    attempt += 1;
                    backoff(attempt, &ctx.stop);
                    continue;
                }
            }
            if attempt > 0 {
                ctx.counters.add(&ctx.counters.reconnects, 1);
            }
            attempt = 0;
            // First what this consumer read before but never acknowledged, then new entries.
            let mut pending_first = true;
            while !ctx.stopped() {
                let acks: Vec<String> = ack_rx.try_iter().flatten().collect();
                if !acks.is_empty() {
                    let acked: redis::RedisResult<i64> = con.xack(key, &self.group, &acks);
                    if acked.is_err() {
                        break;
                    }
                }
                let opts = StreamReadOptions::default()
                    .group(&self.group, &self.consumer)
                    .count(1024)
                    .block(100);
                let from = if pending_first { "0" } else { ">" };
                let reply: redis::RedisResult<Option<StreamReadReply>> =
                    con.xread_options(&[key], &[from], &opts);
                let reply = match reply {
                    Ok(r) => r,
                    Err(e) if e.is_timeout() => continue,
                    Err(_) => break,
                };
                let entries: Vec<redis::streams::StreamId> = reply
                    .map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect())
                    .unwrap_or_default();
                if entries.is_empty() {
                    pending_first = false;
                    continue;
                }
                let payloads: Vec<Vec<u8>> = entries
                    .iter()
                    .map(|e| match e.map.get("payload") {
                        Some(redis::Value::BulkString(b)) => b.clone(),
                        Some(redis::Value::SimpleString(s)) => s.clone().into_bytes(),
                        _ => Vec::new(),
                    })
                    .collect();
                let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
                let ids: Vec<String> = entries.into_iter().map(|e| e.id).collect();
                let tx = ack_tx.clone();
                let ack: Ack = Box::new(move || {
                    let _ = tx.send(ids);
                });
                if !ctx.deliver(&refs, Some(ack), false) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

impl Source for RedisSource {
    fn run(self: Box<Self>, mut ctx: SourceCtx) -> Result<(), String> {
        match &self.target {
            Target::Channel(c) => self.run_channel(c, &mut ctx),
            Target::Stream(s) => self.run_stream(s, &mut ctx),
        }
    }
}

pub struct RedisSink {
    client: redis::Client,
    target: Target,
    con: Option<redis::Connection>,
}

impl RedisSink {
    pub fn new(o: &Options<'_>) -> Result<RedisSink, String> {
        Ok(RedisSink {
            client: client(o)?,
            target: target(o)?,
            con: None,
        })
    }

    fn try_send(&mut self, messages: &[Bytes]) -> Result<(), String> {
        if self.con.is_none() {
            let c = self.client.get_connection().map_err(|e| e.to_string())?;
            self.con = Some(c);
        }
        let Some(con) = self.con.as_mut() else {
            return Err("not connected".into());
        };
        let mut pipe = redis::pipe();
        for m in messages {
            match &self.target {
                Target::Channel(c) => pipe.publish(c, &m[..]).ignore(),
                Target::Stream(s) => pipe.xadd(s, "*", &[("payload", &m[..])]).ignore(),
            };
        }
        let sent: redis::RedisResult<()> = pipe.query(con);
        sent.map_err(|e| {
            self.con = None;
            e.to_string()
        })
    }
}

impl Sink for RedisSink {
    fn send(
        &mut self,
        messages: &[Bytes],
        stop: &AtomicBool,
        counters: &Counters,
    ) -> Result<(), String> {
        with_retries("redis sink", stop, counters, || self.try_send(messages))
    }
}
