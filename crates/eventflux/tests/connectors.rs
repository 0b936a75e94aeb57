//! Connectors end to end through the `eventflux` binary, against real servers: the shared NATS
//! (4222) and private `nats-server` instances that a test stops and restarts. Each test uses
//! its own subjects and JetStream streams.
//!
//! Waiting here is on real I/O (a child process, a broker), bounded by deadlines; no test
//! waits for engine time.

mod common;

use async_nats::jetstream;
use common::{dir, order, passes, rt, unique, Broker, Running};
use futures_util::StreamExt;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

/// A private NATS server with JetStream, stopped and restarted by the test.
fn nats_server(port: u16) -> Broker {
    let store = dir("nats_store");
    Broker::start(
        [
            "nats-server",
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-js",
            "-sd",
            store.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        port,
    )
}

/// Collects the `id` of every JSON object received on `subject` until `want` distinct ids
/// arrived or `deadline` passed; returns (distinct ids, messages received).
async fn collect_ids(
    sub: &mut async_nats::Subscriber,
    want: usize,
    deadline: Duration,
) -> (BTreeSet<i64>, usize) {
    let start = Instant::now();
    let mut ids = BTreeSet::new();
    let mut n = 0;
    while ids.len() < want && start.elapsed() < deadline {
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
            let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            ids.insert(v["id"].as_i64().unwrap());
            n += 1;
        }
    }
    (ids, n)
}

/// Like `collect_ids`, until every id of `want` arrived.
async fn collect_ids_of(
    sub: &mut async_nats::Subscriber,
    want: &BTreeSet<i64>,
    deadline: Duration,
) -> (BTreeSet<i64>, usize) {
    let start = Instant::now();
    let mut ids = BTreeSet::new();
    let mut n = 0;
    while !want.is_subset(&ids) && start.elapsed() < deadline {
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
            let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            ids.insert(v["id"].as_i64().unwrap());
            n += 1;
        }
    }
    (ids, n)
}

const PIPE: &str = "
CREATE STREAM Orders (id LONG, amount DOUBLE)
WITH (type = 'source', extension = 'nats', \"nats.url\" = '{url}', \"nats.subject\" = '{inp}' {src});
CREATE STREAM Big (id LONG, amount DOUBLE)
WITH (type = 'sink', extension = 'nats', \"nats.url\" = '{url}', \"nats.subject\" = '{out}' {snk});
INSERT INTO Big SELECT id, amount FROM Orders WHERE amount > 10;
";

fn pipe(url: &str, inp: &str, out: &str, src: &str, snk: &str) -> String {
    PIPE.replace("{url}", url)
        .replace("{inp}", inp)
        .replace("{out}", out)
        .replace("{src}", src)
        .replace("{snk}", snk)
}

/// Core NATS in and out; a malformed message is reported and skipped.
#[test]
fn nats_core_source_to_sink() {
    let url = "nats://127.0.0.1:4222";
    let (inp, out) = (unique("in"), unique("out"));
    let d = dir("nats_core");
    let rt = rt();
    rt.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let mut sub = client.subscribe(out.clone()).await.unwrap();
        let _app = Running::start(&d, &pipe(url, &inp, &out, "", ""));
        // Core NATS keeps nothing for late subscribers: publish a probe until the app answers.
        let start = Instant::now();
        loop {
            client
                .publish(inp.clone(), order(-1 + 20).into())
                .await
                .unwrap();
            client.flush().await.unwrap();
            if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the app never answered"
            );
        }
        // Drain probes still in flight.
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
        }
        client
            .publish(inp.clone(), "{not json".into())
            .await
            .unwrap();
        for id in 0..200 {
            client.publish(inp.clone(), order(id).into()).await.unwrap();
        }
        client.flush().await.unwrap();
        let want: BTreeSet<i64> = (0..200).filter(|&i| passes(i)).collect();
        let (ids, n) = collect_ids(&mut sub, want.len(), Duration::from_secs(20)).await;
        assert_eq!(ids, want);
        assert_eq!(n, want.len(), "no duplicates on core NATS");
    });
}

/// JetStream in and out: messages published while the app is down are processed when it
/// starts; killing the app mid-stream and starting it again loses nothing (unacknowledged
/// messages are redelivered, at least once).
#[test]
fn nats_jetstream_at_least_once_across_app_restart() {
    let url = "nats://127.0.0.1:4222";
    let (inp, out) = (unique("jin"), unique("jout"));
    let stream = unique("EFIN").to_ascii_uppercase();
    let ostream = unique("EFOUT").to_ascii_uppercase();
    let d = dir("nats_js");
    let src = format!(
        ", \"nats.jetstream\" = 'true', \"nats.stream\" = '{stream}', \"nats.durable\" = 'app'"
    );
    let snk = format!(", \"nats.jetstream\" = 'true', \"nats.stream\" = '{ostream}'");
    let sql = pipe(url, &inp, &out, &src, &snk);
    let rt = rt();
    rt.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let js = jetstream::new(client.clone());
        js.get_or_create_stream(jetstream::stream::Config {
            name: stream.clone(),
            subjects: vec![inp.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
        let mut sub = client.subscribe(out.clone()).await.unwrap();
        for id in 0..300 {
            js.publish(inp.clone(), order(id).into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        let want: BTreeSet<i64> = (0..600).filter(|&i| passes(i)).collect();
        let seen = {
            let _app = Running::start(&d, &sql);
            let (ids, _) = collect_ids(&mut sub, 50, Duration::from_secs(20)).await;
            assert!(ids.len() >= 50);
            for id in 300..600 {
                js.publish(inp.clone(), order(id).into())
                    .await
                    .unwrap()
                    .await
                    .unwrap();
            }
            ids
            // Killed here, possibly with messages in flight.
        };
        let _app = Running::start(&d, &sql);
        let t = Instant::now();
        let rest: BTreeSet<i64> = want.difference(&seen).copied().collect();
        // Messages the killed instance held come back after the consumer's ack wait (10 s).
        let (mut ids, _) = collect_ids_of(&mut sub, &rest, Duration::from_secs(40)).await;
        assert!(t.elapsed() < Duration::from_secs(40));
        ids.extend(seen);
        ids.retain(|i| want.contains(i));
        assert_eq!(ids, want, "every passing order came out at least once");
        js.delete_stream(&stream).await.ok();
        js.delete_stream(&ostream).await.ok();
    });
}

/// The broker itself is stopped mid-stream and restarted (JetStream keeps its store): the
/// source and the sink reconnect by themselves and nothing acknowledged is lost.
#[test]
fn nats_broker_restart() {
    let port = 24_000 + (std::process::id() % 1_000) as u16;
    let mut server = nats_server(port);
    let url = format!("nats://127.0.0.1:{port}");
    let (inp, out) = ("orders.in".to_string(), "orders.out".to_string());
    let d = dir("nats_restart");
    let src = ", \"nats.jetstream\" = 'true', \"nats.stream\" = 'IN', \"nats.durable\" = 'app'";
    let snk = ", \"nats.jetstream\" = 'true', \"nats.stream\" = 'OUT'";
    let rt = rt();
    // The output stream keeps what the sink published across the broker restart.
    rt.block_on(async {
        let client = async_nats::connect(url.as_str()).await.unwrap();
        let js = jetstream::new(client);
        for (name, subject) in [("IN", &inp), ("OUT", &out)] {
            js.get_or_create_stream(jetstream::stream::Config {
                name: name.to_string(),
                subjects: vec![subject.clone()],
                ..Default::default()
            })
            .await
            .unwrap();
        }
        for id in 0..100 {
            js.publish(inp.clone(), order(id).into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    });
    let _app = Running::start(&d, &pipe(&url, &inp, &out, src, snk));
    // Let the app work, then take the broker away and bring it back.
    let count_out = |rt: &tokio::runtime::Runtime| -> u64 {
        rt.block_on(async {
            let Ok(client) = async_nats::connect(url.as_str()).await else {
                return 0;
            };
            let js = jetstream::new(client);
            match js.get_stream("OUT").await {
                Ok(mut s) => s.info().await.map_or(0, |i| i.state.messages),
                Err(_) => 0,
            }
        })
    };
    let start = Instant::now();
    while count_out(&rt) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no output before the restart"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server.stop();
    std::thread::sleep(Duration::from_millis(300));
    server.restart();
    rt.block_on(async {
        let client = async_nats::connect(url.as_str()).await.unwrap();
        let js = jetstream::new(client);
        for id in 100..200 {
            js.publish(inp.clone(), order(id).into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    });
    // Every passing order ends up in OUT (duplicates are removed by Nats-Msg-Id).
    let want: BTreeSet<i64> = (0..200).filter(|&i| passes(i)).collect();
    let start = Instant::now();
    loop {
        let ids: BTreeSet<i64> = rt.block_on(async {
            let client = async_nats::connect(url.as_str()).await.unwrap();
            let js = jetstream::new(client);
            let stream = js.get_stream("OUT").await.unwrap();
            let consumer = stream
                .create_consumer(jetstream::consumer::pull::Config {
                    deliver_policy: jetstream::consumer::DeliverPolicy::All,
                    ..Default::default()
                })
                .await
                .unwrap();
            let mut batch = consumer
                .fetch()
                .max_messages(1_000)
                .expires(Duration::from_millis(500))
                .messages()
                .await
                .unwrap();
            let mut ids = BTreeSet::new();
            while let Some(Ok(m)) = batch.next().await {
                let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                ids.insert(v["id"].as_i64().unwrap());
            }
            ids
        });
        if ids == want {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "missing after the broker restart: {:?}",
            want.difference(&ids).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A CSV file (with a header) in, a CSV file with a header out; the app ends when its file
/// source reaches the end.
#[test]
fn file_csv_in_and_out() {
    let d = dir("file_csv");
    std::fs::write(
        d.join("in.csv"),
        "id,amount\n1,50.5\n2,3\nbad,row\n3,\"12\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("app.sql"),
        "CREATE STREAM Orders (id LONG, amount DOUBLE)
WITH (type = 'source', extension = 'file', format = 'csv', \"csv.header\" = 'true', \"file.path\" = 'in.csv');
CREATE STREAM Big (id LONG, amount DOUBLE)
WITH (type = 'sink', extension = 'file', format = 'csv', \"csv.header\" = 'true', \"file.path\" = 'out.csv', \"file.append\" = 'false');
INSERT INTO Big SELECT id, amount FROM Orders WHERE amount > 10;",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_eventflux"))
        .current_dir(&d)
        .args(["run", "app.sql", "--stats"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stream 'Orders': dropped a message that cannot be decoded: attribute 'id': 'bad' is not LONG: bad,row"),
        "{stderr}"
    );
    // Per-connector counters: four lines in (one undecodable), two out, queues drained.
    assert!(
        stderr.contains("source Orders (file): 4 messages in, 22 bytes, 1 errors, 0 reconnects, 0 deliveries queued (peak 1)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("sink Big (file): 2 messages out, 12 bytes, 0 errors, 0 retries, 0 batches queued (peak 1)"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("out.csv")).unwrap(),
        "id,amount\n1,50.5\n3,12.0\n"
    );
}

/// `file.tail`: lines appended while the app runs are processed as they arrive.
#[test]
fn file_tail_follows_a_growing_file() {
    let d = dir("file_tail");
    std::fs::write(d.join("in.ndjson"), "{\"id\": 1, \"amount\": 20}\n").unwrap();
    let sql = "CREATE STREAM Orders (id LONG, amount DOUBLE)
WITH (type = 'source', extension = 'file', \"file.path\" = 'in.ndjson', \"file.tail\" = 'true');
CREATE STREAM Big (id LONG, amount DOUBLE)
WITH (type = 'sink', extension = 'file', \"file.path\" = 'out.ndjson');
INSERT INTO Big SELECT id, amount FROM Orders WHERE amount > 10;";
    let _app = Running::start(&d, sql);
    let wait_for = |n: usize| {
        let start = Instant::now();
        loop {
            let text = std::fs::read_to_string(d.join("out.ndjson")).unwrap_or_default();
            if text.lines().count() >= n {
                return text;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "only: {text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(1);
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(d.join("in.ndjson"))
            .unwrap();
        f.write_all(b"{\"id\": 2, \"amount\": 5}\n{\"id\": 3, \"am")
            .unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        f.write_all(b"ount\": 30}\n").unwrap();
    }
    assert_eq!(
        wait_for(2),
        "{\"id\": 1, \"amount\": 20.0}\n{\"id\": 3, \"amount\": 30.0}\n"
    );
}

fn redis_con() -> redis::Connection {
    redis::Client::open("redis://127.0.0.1:6379/")
        .unwrap()
        .get_connection()
        .expect("Redis on 127.0.0.1:6379")
}

/// The ids in the `payload` fields of a Redis stream.
fn redis_stream_ids(con: &mut redis::Connection, key: &str) -> BTreeSet<i64> {
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query(con)
        .unwrap_or_default();
    entries
        .iter()
        .flat_map(|(_, fields)| fields.iter())
        .filter(|(f, _)| f == "payload")
        .map(|(_, v)| {
            serde_json::from_str::<serde_json::Value>(v).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect()
}

/// A Redis stream read through a consumer group into another Redis stream; entries added while
/// the app is down, or taken but not acknowledged by an instance that was killed, are processed
/// by the next instance.
#[test]
fn redis_streams_at_least_once_across_app_restart() {
    let (inp, out) = (unique("ef_in"), unique("ef_out"));
    let mut con = redis_con();
    let add = |con: &mut redis::Connection, ids: std::ops::Range<i64>| {
        for id in ids {
            let _: String = redis::cmd("XADD")
                .arg(&inp)
                .arg("*")
                .arg("payload")
                .arg(order(id))
                .query(con)
                .unwrap();
        }
    };
    add(&mut con, 0..200);
    let sql = format!(
        "CREATE STREAM Orders (id LONG, amount DOUBLE)
WITH (type = 'source', extension = 'redis', \"redis.stream\" = '{inp}', \"redis.group\" = 'app');
CREATE STREAM Big (id LONG, amount DOUBLE)
WITH (type = 'sink', extension = 'redis', \"redis.stream\" = '{out}');
INSERT INTO Big SELECT id, amount FROM Orders WHERE amount > 10;"
    );
    let d = dir("redis_streams");
    let want: BTreeSet<i64> = (0..400).filter(|&i| passes(i)).collect();
    let wait_for = |con: &mut redis::Connection, n: usize| {
        let start = Instant::now();
        loop {
            let ids = redis_stream_ids(con, &out);
            if ids.len() >= n {
                return ids;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "only {} outputs",
                ids.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    {
        let _app = Running::start(&d, &sql);
        wait_for(&mut con, 10);
        add(&mut con, 200..300);
    }
    add(&mut con, 300..400);
    let _app = Running::start(&d, &sql);
    let ids = wait_for(&mut con, want.len());
    assert_eq!(ids, want);
    let _: () = redis::cmd("DEL")
        .arg(&inp)
        .arg(&out)
        .query(&mut con)
        .unwrap();
}

/// Redis pub/sub in and out (at-most-once by nature: the test waits until the app listens).
#[test]
fn redis_pubsub_in_and_out() {
    let (inp, out) = (unique("ef_chan_in"), unique("ef_chan_out"));
    let sql = format!(
        "CREATE STREAM Orders (id LONG, amount DOUBLE)
WITH (type = 'source', extension = 'redis', \"redis.channel\" = '{inp}');
CREATE STREAM Big (id LONG, amount DOUBLE)
WITH (type = 'sink', extension = 'redis', \"redis.channel\" = '{out}');
INSERT INTO Big SELECT id, amount FROM Orders WHERE amount > 10;"
    );
    let d = dir("redis_pubsub");
    let mut listen = redis_con();
    let mut sub = listen.as_pubsub();
    sub.subscribe(&out).unwrap();
    sub.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let _app = Running::start(&d, &sql);
    let mut con = redis_con();
    let start = Instant::now();
    // Probe until the app's subscription is in place.
    loop {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(&inp)
            .arg(order(19))
            .query(&mut con)
            .unwrap();
        if sub.get_message().is_ok() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the app never answered"
        );
    }
    while sub.get_message().is_ok() {}
    for id in 0..100 {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(&inp)
            .arg(order(id))
            .query(&mut con)
            .unwrap();
    }
    let want: BTreeSet<i64> = (0..100).filter(|&i| passes(i)).collect();
    let mut ids = BTreeSet::new();
    let start = Instant::now();
    while ids != want && start.elapsed() < Duration::from_secs(20) {
        if let Ok(m) = sub.get_message() {
            let v: serde_json::Value = serde_json::from_slice(m.get_payload_bytes()).unwrap();
            ids.insert(v["id"].as_i64().unwrap());
        }
    }
    assert_eq!(ids, want);
}

/// A test MQTT client: publishes with QoS 1 and collects the ids of what arrives on `out`.
struct MqttProbe {
    client: rumqttc::Client,
    got: std::sync::mpsc::Receiver<i64>,
    _poll: std::thread::JoinHandle<()>,
}

impl MqttProbe {
    /// A probe on the broker at `port` subscribed to `out`; with a `persistent` session the
    /// broker keeps outputs for it across a restart (it subscribes again whenever the broker
    /// has no session for it).
    fn new(port: u16, out: &str, persistent: bool) -> MqttProbe {
        let mut opts = rumqttc::MqttOptions::new(unique("probe"), "127.0.0.1", port);
        opts.set_keep_alive(Duration::from_secs(5))
            .set_clean_session(!persistent);
        let (client, mut conn) = rumqttc::Client::new(opts, 1024);
        client.subscribe(out, rumqttc::QoS::AtLeastOnce).unwrap();
        let (tx, got) = std::sync::mpsc::channel();
        let (resub, topic) = (client.clone(), out.to_string());
        let poll = std::thread::spawn(move || {
            for e in conn.iter() {
                match e {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(c)))
                        if !c.session_present =>
                    {
                        let _ = resub.subscribe(topic.as_str(), rumqttc::QoS::AtLeastOnce);
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        let v: serde_json::Value = serde_json::from_slice(&p.payload).unwrap();
                        if tx.send(v["id"].as_i64().unwrap()).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        MqttProbe {
            client,
            got,
            _poll: poll,
        }
    }

    /// Publishes a passing order to `inp` until the app answers (its session and subscription
    /// exist then).
    fn wait_for_app(&self, inp: &str) {
        let start = Instant::now();
        loop {
            self.publish(inp, 19);
            if self.got.recv_timeout(Duration::from_millis(200)).is_ok() {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the app never answered"
            );
        }
    }

    fn publish(&self, topic: &str, id: i64) {
        self.client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, order(id))
            .unwrap();
    }

    /// Ids received until `want` is covered or `deadline` passes.
    fn collect(&self, want: &BTreeSet<i64>, deadline: Duration) -> BTreeSet<i64> {
        let start = Instant::now();
        let mut ids = BTreeSet::new();
        while !want.is_subset(&ids) && start.elapsed() < deadline {
            if let Ok(id) = self.got.recv_timeout(Duration::from_millis(100)) {
                ids.insert(id);
            }
        }
        ids
    }
}

/// MQTT in (a wildcard topic, QoS 1, persistent session) and out: messages published while the
/// app is stopped are delivered to it when it comes back.
#[test]
fn mqtt_in_and_out_with_a_persistent_session() {
    let base = unique("ef");
    let (inp, out) = (format!("{base}/in/a"), format!("{base}/out"));
    let sql = format!(
        "CREATE STREAM Orders (id LONG, amount DOUBLE)
WITH (type = 'source', extension = 'mqtt', \"mqtt.url\" = 'mqtt://127.0.0.1:1883', \"mqtt.topic\" = '{base}/in/+', \"mqtt.client_id\" = '{base}-app');
CREATE STREAM Big (id LONG, amount DOUBLE)
WITH (type = 'sink', extension = 'mqtt', \"mqtt.url\" = 'mqtt://127.0.0.1:1883', \"mqtt.topic\" = '{out}');
INSERT INTO Big SELECT id, amount FROM Orders WHERE amount > 10;"
    );
    let d = dir("mqtt");
    let probe = MqttProbe::new(1883, &out, false);
    {
        let _app = Running::start(&d, &sql);
        probe.wait_for_app(&inp);
        for id in 0..50 {
            probe.publish(&inp, id);
        }
        let want: BTreeSet<i64> = (0..50).filter(|&i| passes(i)).collect();
        assert_eq!(probe.collect(&want, Duration::from_secs(20)), want);
    }
    // The app is gone; the broker keeps QoS 1 messages for its session.
    for id in 100..150 {
        probe.publish(&inp, id);
    }
    std::thread::sleep(Duration::from_millis(200));
    let _app = Running::start(&d, &sql);
    let want: BTreeSet<i64> = (100..150).filter(|&i| passes(i)).collect();
    let got = probe.collect(&want, Duration::from_secs(20));
    // At least once: what the killed instance had not acknowledged may come again.
    assert!(want.is_subset(&got), "missing {:?}", want.difference(&got));
    assert!(got.iter().all(|&i| passes(i)));
}

/// The connector examples compile, and the file one runs as its comment says.
#[test]
fn connector_examples() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/connectors");
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "sql") {
            let out = Command::new(env!("CARGO_BIN_EXE_eventflux"))
                .arg("check")
                .arg(&p)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                p.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let work = self::dir("example_file");
    std::fs::copy(dir.join("file_to_file.sql"), work.join("app.sql")).unwrap();
    std::fs::copy(dir.join("readings.csv"), work.join("readings.csv")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_eventflux"))
        .current_dir(&work)
        .args(["run", "app.sql"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(work.join("hot.ndjson")).unwrap(),
        "{\"sensor\": \"s2\", \"celsius\": 35.0}\n{\"sensor\": \"s1\", \"celsius\": 31.2}\n"
    );
}

/// An HTTP source and a webhook sink: 202 for accepted events, 400 with the reasons for bad
/// ones, and a webhook endpoint (a real HTTP server in the test) that fails once with 500 gets
/// the request again.
#[test]
fn http_source_to_webhook_sink() {
    let receiver = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let hook_port = receiver.server_addr().to_ip().unwrap().port();
    let (tx, got) = std::sync::mpsc::channel::<(String, Option<String>)>();
    std::thread::spawn(move || {
        let mut first = true;
        for mut req in receiver.incoming_requests() {
            let mut body = String::new();
            let _ = std::io::Read::read_to_string(req.as_reader(), &mut body);
            let token = req
                .headers()
                .iter()
                .find(|h| h.field.equiv("X-Token"))
                .map(|h| h.value.to_string());
            let code = if first { 500 } else { 200 };
            first = false;
            let _ = req.respond(tiny_http::Response::empty(code));
            if code == 200 && tx.send((body, token)).is_err() {
                return;
            }
        }
    });
    let port = 25_000 + (std::process::id() % 1_000) as u16;
    let sql = format!(
        "CREATE STREAM Orders (id LONG, amount DOUBLE)
WITH (type = 'source', extension = 'http', \"http.listen\" = '127.0.0.1:{port}', \"http.path\" = '/orders');
CREATE STREAM Big (id LONG, amount DOUBLE)
WITH (type = 'sink', extension = 'webhook', \"webhook.url\" = 'http://127.0.0.1:{hook_port}/hook',
      \"webhook.batch\" = '2', \"webhook.headers.X-Token\" = 'secret');
INSERT INTO Big SELECT id, amount FROM Orders WHERE amount > 10;"
    );
    let d = dir("http");
    let _app = Running::start(&d, &sql);
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let url = format!("http://127.0.0.1:{port}/orders");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the app does not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let post = |body: &str| {
        // A connection refused while the server starts up is tried again.
        let mut tries = 0;
        let mut r = loop {
            match agent.post(&url).send(body.as_bytes()) {
                Ok(r) => break r,
                Err(e) if tries < 20 => {
                    tries += 1;
                    eprintln!("retrying a POST: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("POST {url}: {e}"),
            }
        };
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    // NDJSON: four events, two pass the filter (amount 24 and 12).
    let (code, text) = post(&format!(
        "{}\n{}\n{}\n{}\n",
        String::from_utf8(order(19)).unwrap(),
        String::from_utf8(order(1)).unwrap(),
        String::from_utf8(order(7)).unwrap(),
        String::from_utf8(order(2)).unwrap()
    ));
    assert_eq!((code, text.as_str()), (202, "{\"accepted\": 4}"));
    // A JSON array is one message, accepted or rejected whole: 400 with the reason.
    let (code, text) = post(r#"[{"id": 30, "amount": 99}, {"id": "x"}]"#);
    assert_eq!(code, 400, "{text}");
    assert!(
        text.starts_with(
            "{\"accepted\": 0, \"rejected\": 1, \"errors\": [\"attribute 'id' expects a LONG"
        ),
        "{text}"
    );
    // NDJSON lines are messages of their own: the good line is accepted.
    let (code, text) = post("{\"id\": 40, \"amount\": 1}\n{\"id\": \"y\"}\n");
    assert_eq!(code, 400);
    assert!(
        text.starts_with("{\"accepted\": 1, \"rejected\": 1"),
        "{text}"
    );
    let (code, _) = post(r#"{"id": 31, "amount": 50}"#);
    assert_eq!(code, 202);
    assert_eq!(agent.get(&url).call().unwrap().status().as_u16(), 405);
    // Webhook requests: the first (refused with 500) came again; batches of two.
    let mut bodies = Vec::new();
    while bodies.len() < 2 {
        let (body, token) = got
            .recv_timeout(Duration::from_secs(20))
            .expect("webhook request");
        assert_eq!(token.as_deref(), Some("secret"));
        bodies.push(body);
    }
    assert_eq!(
        bodies[0],
        "[{\"id\": 19, \"amount\": 24.0},{\"id\": 7, \"amount\": 12.0}]"
    );
    assert_eq!(bodies[1], "{\"id\": 31, \"amount\": 50.0}");
}

/// RabbitMQ in (a durable queue, prefetch, acks after sink confirmation) and out (an exchange
/// with publisher confirms): messages queued while the app is down are processed when it comes
/// back, and nothing unacknowledged by a killed instance is lost.
#[test]
fn rabbitmq_queue_to_exchange_at_least_once() {
    use lapin::options::*;
    use lapin::types::FieldTable;
    let (queue, exchange) = (unique("ef_in"), unique("ef_out"));
    let sql = format!(
        "CREATE STREAM Orders (id LONG, amount DOUBLE)
WITH (type = 'source', extension = 'rabbitmq', \"rabbitmq.host\" = '127.0.0.1', \"rabbitmq.queue\" = '{queue}', \"rabbitmq.prefetch\" = '50');
CREATE STREAM Big (id LONG, amount DOUBLE)
WITH (type = 'sink', extension = 'rabbitmq', \"rabbitmq.host\" = '127.0.0.1', \"rabbitmq.exchange\" = '{exchange}', \"rabbitmq.routing.key\" = 'big');
INSERT INTO Big SELECT id, amount FROM Orders WHERE amount > 10;"
    );
    let d = dir("rabbitmq");
    let rt = rt();
    rt.block_on(async {
        let conn =
            lapin::Connection::connect("amqp://guest:guest@127.0.0.1:5672/%2f", Default::default())
                .await
                .expect("RabbitMQ on 127.0.0.1:5672");
        let ch = conn.create_channel().await.unwrap();
        let outq = rabbit_pipe(&ch, &queue, &exchange, None).await;
        let mut out = ch
            .basic_consume(
                outq,
                "probe".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        let publish = |ids: std::ops::Range<i64>| {
            let ch = ch.clone();
            let queue = queue.clone();
            async move {
                for id in ids {
                    ch.basic_publish(
                        "".into(),
                        queue.as_str().into(),
                        BasicPublishOptions::default(),
                        &order(id),
                        Default::default(),
                    )
                    .await
                    .unwrap();
                }
            }
        };
        let mut ids = BTreeSet::new();
        publish(0..100).await;
        {
            let _app = Running::start(&d, &sql);
            ids.extend(rabbit_ids(&mut out, 10, Duration::from_secs(20)).await);
            publish(100..200).await;
        }
        publish(200..300).await;
        let want: BTreeSet<i64> = (0..300).filter(|&i| passes(i)).collect();
        let _app = Running::start(&d, &sql);
        let start = Instant::now();
        while !want.is_subset(&ids) && start.elapsed() < Duration::from_secs(30) {
            ids.extend(rabbit_ids(&mut out, 1, Duration::from_millis(500)).await);
        }
        assert!(
            want.is_subset(&ids),
            "missing {:?}",
            want.difference(&ids).collect::<Vec<_>>()
        );
        let _ = ch
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await;
        let _ = ch
            .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
            .await;
    });
}

/// Declares a test pipeline's RabbitMQ topology: the durable input queue, the durable direct
/// exchange the app's sink publishes to, and a queue bound to it with key 'big' (`output`, or an
/// exclusive server-named one). Returns the output queue's name.
async fn rabbit_pipe(
    ch: &lapin::Channel,
    input: &str,
    exchange: &str,
    output: Option<&str>,
) -> lapin::types::ShortString {
    use lapin::options::*;
    use lapin::types::FieldTable;
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare(input.into(), durable, FieldTable::default())
        .await
        .unwrap();
    ch.exchange_declare(
        exchange.into(),
        lapin::ExchangeKind::Direct,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    let out = match output {
        Some(name) => ch.queue_declare(name.into(), durable, FieldTable::default()),
        None => ch.queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        ),
    }
    .await
    .unwrap();
    ch.queue_bind(
        out.name().clone(),
        exchange.into(),
        "big".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    out.name().clone()
}

/// Up to `want` ids received from a RabbitMQ consumer before `deadline`.
async fn rabbit_ids(out: &mut lapin::Consumer, want: usize, deadline: Duration) -> Vec<i64> {
    let start = Instant::now();
    let mut fresh = Vec::new();
    while fresh.len() < want && start.elapsed() < deadline {
        if let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_millis(200), out.next()).await
        {
            let v: serde_json::Value = serde_json::from_slice(&m.data).unwrap();
            fresh.push(v["id"].as_i64().unwrap());
        }
    }
    fresh
}

/// WebSocket in and out: the app connects as a client to two WebSocket servers run by the test;
/// the source reconnects after its server drops the connection.
#[test]
fn websocket_source_and_sink() {
    let feed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sink = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (feed_port, sink_port) = (
        feed.local_addr().unwrap().port(),
        sink.local_addr().unwrap().port(),
    );
    // The feed: two connections, two batches of orders; the first connection is dropped.
    std::thread::spawn(move || {
        for round in 0..2i64 {
            let (stream, _) = feed.accept().unwrap();
            let mut ws = tungstenite::accept(stream).unwrap();
            for id in round * 50..round * 50 + 50 {
                ws.send(tungstenite::Message::text(
                    String::from_utf8(order(id)).unwrap(),
                ))
                .unwrap();
            }
            if round == 1 {
                // Keep the last connection open until the test ends.
                std::thread::sleep(Duration::from_secs(30));
            }
        }
    });
    let (tx, got) = std::sync::mpsc::channel::<i64>();
    std::thread::spawn(move || {
        let (stream, _) = sink.accept().unwrap();
        let mut ws = tungstenite::accept(stream).unwrap();
        while let Ok(m) = ws.read() {
            if let tungstenite::Message::Text(t) = m {
                let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                if tx.send(v["id"].as_i64().unwrap()).is_err() {
                    return;
                }
            }
        }
    });
    let sql = format!(
        "CREATE STREAM Orders (id LONG, amount DOUBLE)
WITH (type = 'source', extension = 'websocket', \"websocket.url\" = 'ws://127.0.0.1:{feed_port}/feed');
CREATE STREAM Big (id LONG, amount DOUBLE)
WITH (type = 'sink', extension = 'websocket', \"websocket.url\" = 'ws://127.0.0.1:{sink_port}/out');
INSERT INTO Big SELECT id, amount FROM Orders WHERE amount > 10;"
    );
    let d = dir("websocket");
    let _app = Running::start(&d, &sql);
    let want: BTreeSet<i64> = (0..100).filter(|&i| passes(i)).collect();
    let mut ids = BTreeSet::new();
    let start = Instant::now();
    while ids != want && start.elapsed() < Duration::from_secs(20) {
        if let Ok(id) = got.recv_timeout(Duration::from_millis(100)) {
            ids.insert(id);
        }
    }
    assert_eq!(ids, want);
}

/// Redis itself restarts mid-stream (append-only file, fsync always): the stream source and
/// sink reconnect, and every entry comes out.
#[test]
fn redis_broker_restart() {
    let port = 26_000 + (std::process::id() % 1_000) as u16;
    let data = dir("redis_data");
    let mut server = Broker::start(
        [
            "redis-server",
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            data.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        port,
    );
    let url = format!("redis://127.0.0.1:{port}/");
    let con = || {
        redis::Client::open(url.as_str())
            .unwrap()
            .get_connection()
            .unwrap()
    };
    let add = |ids: std::ops::Range<i64>| {
        let mut c = con();
        for id in ids {
            let _: String = redis::cmd("XADD")
                .arg("in")
                .arg("*")
                .arg("payload")
                .arg(order(id))
                .query(&mut c)
                .unwrap();
        }
    };
    add(0..100);
    let sql = format!(
        "CREATE STREAM Orders (id LONG, amount DOUBLE)
WITH (type = 'source', extension = 'redis', \"redis.url\" = '{url}', \"redis.stream\" = 'in', \"redis.group\" = 'app');
CREATE STREAM Big (id LONG, amount DOUBLE)
WITH (type = 'sink', extension = 'redis', \"redis.url\" = '{url}', \"redis.stream\" = 'out');
INSERT INTO Big SELECT id, amount FROM Orders WHERE amount > 10;"
    );
    let d = dir("redis_restart");
    let _app = Running::start(&d, &sql);
    let start = Instant::now();
    while redis_stream_ids(&mut con(), "out").is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no output before the restart"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.stop();
    std::thread::sleep(Duration::from_millis(300));
    server.restart();
    add(100..200);
    let want: BTreeSet<i64> = (0..200).filter(|&i| passes(i)).collect();
    let start = Instant::now();
    loop {
        let ids = redis_stream_ids(&mut con(), "out");
        if ids == want {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "missing after the restart: {:?}",
            want.difference(&ids).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Mosquitto itself restarts mid-stream (persistence on): the app's session survives, the
/// source and sink reconnect, and every message published with QoS 1 comes out.
#[test]
fn mqtt_broker_restart() {
    let port = 27_000 + (std::process::id() % 1_000) as u16;
    let data = dir("mosquitto");
    let conf = data.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n",
            data.display()
        ),
    )
    .unwrap();
    let mut broker = Broker::start(
        vec![
            "mosquitto".into(),
            "-c".into(),
            conf.to_str().unwrap().into(),
        ],
        port,
    );
    let base = unique("ef");
    let (inp, out) = (format!("{base}/in"), format!("{base}/out"));
    let sql = format!(
        "CREATE STREAM Orders (id LONG, amount DOUBLE)
WITH (type = 'source', extension = 'mqtt', \"mqtt.url\" = 'mqtt://127.0.0.1:{port}', \"mqtt.topic\" = '{inp}', \"mqtt.client_id\" = '{base}-app');
CREATE STREAM Big (id LONG, amount DOUBLE)
WITH (type = 'sink', extension = 'mqtt', \"mqtt.url\" = 'mqtt://127.0.0.1:{port}', \"mqtt.topic\" = '{out}');
INSERT INTO Big SELECT id, amount FROM Orders WHERE amount > 10;"
    );
    let probe = MqttProbe::new(port, &out, true);
    let d = dir("mqtt_restart");
    let _app = Running::start(&d, &sql);
    probe.wait_for_app(&inp);
    for id in 0..50 {
        probe.publish(&inp, id);
    }
    let first: BTreeSet<i64> = (0..50).filter(|&i| passes(i)).collect();
    let mut ids = probe.collect(&first, Duration::from_secs(20));
    broker.stop();
    std::thread::sleep(Duration::from_millis(300));
    broker.restart();
    let start = Instant::now();
    let want: BTreeSet<i64> = (0..100).filter(|&i| passes(i)).collect();
    let mut published = false;
    while !want.is_subset(&ids) && start.elapsed() < Duration::from_secs(40) {
        if !published && start.elapsed() > Duration::from_secs(1) {
            for id in 50..100 {
                probe.publish(&inp, id);
            }
            published = true;
        }
        if let Ok(id) = probe.got.recv_timeout(Duration::from_millis(100)) {
            ids.insert(id);
        }
    }
    assert!(
        want.is_subset(&ids),
        "missing {:?}",
        want.difference(&ids).collect::<Vec<_>>()
    );
}

/// RabbitMQ itself restarts mid-stream (a private node; durable queues, persistent messages):
/// the source and sink reconnect, and every message comes out.
#[test]
fn rabbitmq_broker_restart() {
    use lapin::options::*;
    use lapin::types::FieldTable;
    let port = 35_000 + (std::process::id() % 1_000) as u16;
    let data = dir("rabbitmq_node");
    // The node runs as the rabbitmq user.
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    std::fs::write(data.join("enabled_plugins"), "[].").unwrap();
    std::fs::write(data.join("rabbitmq.conf"), "").unwrap();
    let at = |f: &str| data.join(f).to_string_lossy().into_owned();
    let env: Vec<(String, String)> = [
        ("RABBITMQ_NODENAME", format!("ef{port}@localhost")),
        ("RABBITMQ_NODE_PORT", port.to_string()),
        ("RABBITMQ_DIST_PORT", (port + 1000).to_string()),
        ("RABBITMQ_MNESIA_BASE", at("mnesia")),
        ("RABBITMQ_MNESIA_DIR", at("mnesia/node")),
        ("RABBITMQ_LOG_BASE", at("log")),
        ("RABBITMQ_PID_FILE", at("pid")),
        ("RABBITMQ_ENABLED_PLUGINS_FILE", at("enabled_plugins")),
        ("RABBITMQ_CONFIG_FILE", at("rabbitmq")),
        ("RABBITMQ_ADVANCED_CONFIG_FILE", at("advanced.config")),
        ("RABBITMQ_FEATURE_FLAGS_FILE", at("feature_flags")),
        ("RABBITMQ_PLUGINS_EXPAND_DIR", at("plugins")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut node = Broker::new(vec!["rabbitmq-server".into()], port);
    node.env = env;
    node.pid_file = Some(data.join("pid"));
    node.restart();
    let uri = format!("amqp://guest:guest@127.0.0.1:{port}/%2f");
    let connect = || async {
        let conn = lapin::Connection::connect(&uri, Default::default())
            .await
            .expect("private RabbitMQ node");
        let ch = conn.create_channel().await.unwrap();
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        rabbit_pipe(&ch, "in", "orders", Some("out")).await;
        (conn, ch)
    };
    let publish = |ch: lapin::Channel, ids: std::ops::Range<i64>| async move {
        for id in ids {
            ch.basic_publish(
                "".into(),
                "in".into(),
                BasicPublishOptions::default(),
                &order(id),
                lapin::BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        }
    };
    let sql = format!(
        "CREATE STREAM Orders (id LONG, amount DOUBLE)
WITH (type = 'source', extension = 'rabbitmq', \"rabbitmq.host\" = '127.0.0.1', \"rabbitmq.port\" = '{port}', \"rabbitmq.queue\" = 'in', \"rabbitmq.prefetch\" = '20');
CREATE STREAM Big (id LONG, amount DOUBLE)
WITH (type = 'sink', extension = 'rabbitmq', \"rabbitmq.host\" = '127.0.0.1', \"rabbitmq.port\" = '{port}', \"rabbitmq.exchange\" = 'orders', \"rabbitmq.routing.key\" = 'big');
INSERT INTO Big SELECT id, amount FROM Orders WHERE amount > 10;"
    );
    let d = dir("rabbitmq_restart");
    let rt = rt();
    let mut ids = BTreeSet::new();
    let _app = rt.block_on(async {
        let (_conn, ch) = connect().await;
        publish(ch.clone(), 0..100).await;
        let app = Running::start(&d, &sql);
        let start = Instant::now();
        while ids.is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no output before the restart"
            );
            let got = ch
                .basic_get("out".into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap();
            match got {
                Some(m) => {
                    let v: serde_json::Value = serde_json::from_slice(&m.data).unwrap();
                    ids.insert(v["id"].as_i64().unwrap());
                }
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        app
    });
    node.stop();
    node.restart();
    rt.block_on(async {
        let (_conn, ch) = connect().await;
        publish(ch.clone(), 100..200).await;
        let mut out = ch
            .basic_consume(
                "out".into(),
                "probe".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        let want: BTreeSet<i64> = (0..200).filter(|&i| passes(i)).collect();
        let start = Instant::now();
        while !want.is_subset(&ids) && start.elapsed() < Duration::from_secs(60) {
            ids.extend(rabbit_ids(&mut out, 1, Duration::from_millis(500)).await);
        }
        assert_eq!(
            ids,
            want,
            "missing after the restart: {:?}",
            want.difference(&ids).collect::<Vec<_>>()
        );
    });
}
