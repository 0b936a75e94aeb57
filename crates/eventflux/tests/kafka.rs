//! The `kafka` connector end to end through the `eventflux` binary, against a real
//! Kafka-protocol broker: tansu (`scripts/tools.sh` installs it, `scripts/services.sh` runs the
//! shared one on 127.0.0.1:9092), and a private tansu with SQLite storage that a test stops and
//! restarts. Test data goes through a real Kafka client (librdkafka).
//!
//! Waiting here is on real I/O (a child process, a broker), bounded by deadlines; no test
//! waits for engine time.

mod common;

use common::{dir, order, passes, rt, unique, Broker, Running};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::Message;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const SHARED: &str = "127.0.0.1:9092";

/// The tansu binary: `$EVENTFLUX_TANSU`, `tansu` on the PATH, or where `scripts/tools.sh`
/// installs it.
fn tansu() -> PathBuf {
    if let Ok(p) = std::env::var("EVENTFLUX_TANSU") {
        return PathBuf::from(p);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("tansu"))
            .find(|p| p.is_file())
    });
    let cached = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/eventflux-tools/bin/tansu"))
        .filter(|p| p.is_file());
    on_path
        .or(cached)
        .expect("the tansu broker is not installed: run scripts/tools.sh")
}

fn create_topics(servers: &str, topics: &[(&str, i32)]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", servers)
        .create()
        .unwrap();
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(1)))
        .collect();
    let results = rt()
        .block_on(admin.create_topics(&new, &AdminOptions::new()))
        .expect("CreateTopics");
    for r in results {
        r.expect("topic created");
    }
}

fn producer(servers: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", servers)
        .set("linger.ms", "1")
        .create()
        .unwrap()
}

/// Produces `order(id)` for each id (keyed by id, so they spread over the partitions) and
/// waits until the broker has them all.
fn produce(p: &BaseProducer, topic: &str, ids: impl IntoIterator<Item = i64>) {
    for id in ids {
        let key = id.to_string();
        let payload = order(id);
        let record = BaseRecord::to(topic).key(key.as_str()).payload(&payload);
        p.send(record).map_err(|(e, _)| e).unwrap();
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(30)).unwrap();
}

/// A consumer of the app's output topic (its own group, from the beginning).
fn reader(servers: &str, topic: &str) -> BaseConsumer {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", servers)
        .set("group.id", unique("probe"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    c.subscribe(&[topic]).unwrap();
    c
}

/// Reads `id`s of output messages into `ids` until `done(ids)` or `deadline`; returns the
/// number of messages read.
fn read_ids(
    c: &BaseConsumer,
    ids: &mut BTreeSet<i64>,
    done: impl Fn(&BTreeSet<i64>) -> bool,
    deadline: Duration,
) -> usize {
    let start = Instant::now();
    let mut n = 0;
    while !done(ids) && start.elapsed() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            let v: serde_json::Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
            ids.insert(v["id"].as_i64().unwrap());
            n += 1;
        }
    }
    n
}

fn app(servers: &str, input: &str, output: &str, extra: &str) -> String {
    format!(
        "CREATE STREAM Orders (id LONG, amount DOUBLE)
WITH (type = 'source', extension = 'kafka', \"kafka.bootstrap.servers\" = '{servers}', \"kafka.topic\" = '{input}', \"kafka.group.id\" = 'app_{input}' {extra});
CREATE STREAM Big (id LONG, amount DOUBLE)
WITH (type = 'sink', extension = 'kafka', \"kafka.bootstrap.servers\" = '{servers}', \"kafka.topic\" = '{output}');
INSERT INTO Big SELECT id, amount FROM Orders WHERE amount > 10;"
    )
}

/// Topic to topic through the app: messages produced before the app's first start are read
/// (a new group starts at the earliest offset); the app is killed mid-stream and started
/// again, and every message comes out (offsets are committed only for confirmed outputs).
/// A malformed message is skipped and the rest flows.
#[test]
fn kafka_topic_to_topic_at_least_once_across_app_restart() {
    let (input, output) = (unique("ef_in"), unique("ef_out"));
    create_topics(SHARED, &[(&input, 3), (&output, 1)]);
    let p = producer(SHARED);
    let out = reader(SHARED, &output);
    // The killed member's session ends after 6 s, when its partitions go to the new one.
    let sql = app(
        SHARED,
        &input,
        &output,
        ", \"kafka.session.timeout.ms\" = '6000'",
    );
    let d = dir("kafka");
    produce(&p, &input, 0..100);
    p.send(BaseRecord::<(), [u8]>::to(&input).payload(b"{not json".as_slice()))
        .map_err(|(e, _)| e)
        .unwrap();
    let mut ids = BTreeSet::new();
    {
        let _app = Running::start(&d, &sql);
        read_ids(&out, &mut ids, |s| s.len() >= 10, Duration::from_secs(30));
        assert!(ids.len() >= 10, "no output from the first run");
        produce(&p, &input, 100..200);
    }
    produce(&p, &input, 200..300);
    let want: BTreeSet<i64> = (0..300).filter(|&i| passes(i)).collect();
    let _app = Running::start(&d, &sql);
    read_ids(
        &out,
        &mut ids,
        |s| want.is_subset(s),
        Duration::from_secs(60),
    );
    assert!(
        want.is_subset(&ids),
        "missing {:?}",
        want.difference(&ids).collect::<Vec<_>>()
    );
    assert!(ids.is_subset(&want), "unexpected ids");
}

/// The broker itself restarts mid-stream (tansu with SQLite storage keeps topics, messages and
/// committed offsets): the source and sink reconnect, and every message comes out.
#[test]
fn kafka_broker_restart() {
    let port = 29_000 + (std::process::id() % 1_000) as u16;
    let servers = format!("127.0.0.1:{port}");
    let data = dir("tansu");
    let mut broker = Broker::new(
        [
            tansu().to_string_lossy().into_owned(),
            "broker".into(),
            "--listener-url".into(),
            format!("tcp://127.0.0.1:{port}"),
            "--advertised-listener-url".into(),
            format!("tcp://127.0.0.1:{port}"),
            "--storage-engine".into(),
            // Relative to the broker's working directory.
            "sqlite://tansu.db".into(),
        ]
        .to_vec(),
        port,
    );
    broker.cwd = Some(data.clone());
    broker.restart();
    create_topics(&servers, &[("in", 2), ("out", 1)]);
    let p = producer(&servers);
    produce(&p, "in", 0..100);
    let d = dir("kafka_restart");
    let _app = Running::start(&d, &app(&servers, "in", "out", ""));
    let mut ids = BTreeSet::new();
    {
        let out = reader(&servers, "out");
        read_ids(&out, &mut ids, |s| !s.is_empty(), Duration::from_secs(30));
        assert!(!ids.is_empty(), "no output before the restart");
    }
    broker.stop();
    std::thread::sleep(Duration::from_millis(500));
    broker.restart();
    let p = producer(&servers);
    produce(&p, "in", 100..200);
    let want: BTreeSet<i64> = (0..200).filter(|&i| passes(i)).collect();
    let out = reader(&servers, "out");
    let mut ids = BTreeSet::new();
    read_ids(
        &out,
        &mut ids,
        |s| want.is_subset(s),
        Duration::from_secs(60),
    );
    assert_eq!(
        ids,
        want,
        "missing after the restart: {:?}",
        want.difference(&ids).collect::<Vec<_>>()
    );
}
