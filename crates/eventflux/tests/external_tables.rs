//! External tables (§4) end to end, through the embedding API and the `eventflux` binary,
//! against the real PostgreSQL (5432), MariaDB (3306) and Redis (6379) of this machine
//! (`scripts/services.sh` starts them). Each test makes its own table or key prefix and removes
//! it.
//!
//! Covered: enrichment joins (inner and LEFT), `IN`, every table write (INSERT, UPSERT, UPDATE
//! … FROM … ON, DELETE … USING … ON, UPDATE OR INSERT) checked in the store itself; the cache
//! (hits, misses, negative entries, TTL on the virtual clock, preload); store failures under
//! each `'error.strategy'` (log, stream, fail, and a query's own strategy); wrong credentials;
//! a Redis server stopped mid-run and restarted; the same app through the binary.

use eventflux::{App, Error, Value};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "ef_{tag}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A customer as the store holds it: (id, name, tier).
type Customer = (i32, Option<String>, Option<String>);

/// One kind of store, with a table made for a test.
trait TestStore {
    /// The `WITH` options naming the store and its table (without cache options).
    fn with(&self) -> String;
    fn seed(&self, rows: &[Customer]);
    /// The row with this id, read directly from the store.
    fn get(&self, id: i32) -> Option<Customer>;
}

struct Postgres {
    table: String,
}

fn pg() -> postgres::Client {
    postgres::Client::connect("host=127.0.0.1 user=postgres dbname=test", postgres::NoTls)
        .expect("PostgreSQL on 127.0.0.1:5432")
}

impl Postgres {
    fn new() -> Postgres {
        let table = unique("app_pg");
        pg().batch_execute(&format!(
            "CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT, tier TEXT)"
        ))
        .unwrap();
        Postgres { table }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = pg().batch_execute(&format!("DROP TABLE IF EXISTS {}", self.table));
    }
}

impl TestStore for Postgres {
    fn with(&self) -> String {
        format!(
            "extension = 'postgres', \"postgres.url\" = 'postgres://postgres@127.0.0.1:5432/test?application_name={0}', \"postgres.table\" = '{0}'",
            self.table
        )
    }
    fn seed(&self, rows: &[Customer]) {
        let mut c = pg();
        for (id, name, tier) in rows {
            c.execute(
                &format!(
                    "INSERT INTO {} VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, tier = EXCLUDED.tier",
                    self.table
                ),
                &[id, name, tier],
            )
            .unwrap();
        }
    }
    fn get(&self, id: i32) -> Option<Customer> {
        pg().query_opt(
            &format!("SELECT id, name, tier FROM {} WHERE id = $1", self.table),
            &[&id],
        )
        .unwrap()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
    }
}

struct Maria {
    table: String,
}

fn maria() -> mysql::Conn {
    mysql::Conn::new(mysql::Opts::from_url("mysql://root@127.0.0.1:3306/test").unwrap())
        .expect("MariaDB on 127.0.0.1:3306")
}

impl Maria {
    fn new() -> Maria {
        use mysql::prelude::Queryable;
        let table = unique("app_my");
        maria()
            .query_drop(format!(
                "CREATE TABLE {table} (id INT PRIMARY KEY, name TEXT, tier TEXT)"
            ))
            .unwrap();
        Maria { table }
    }
}

impl Drop for Maria {
    fn drop(&mut self) {
        use mysql::prelude::Queryable;
        let _ = maria().query_drop(format!("DROP TABLE IF EXISTS {}", self.table));
    }
}

impl TestStore for Maria {
    fn with(&self) -> String {
        format!(
            "extension = 'mysql', \"mysql.url\" = 'mysql://root@127.0.0.1:3306/test', \"mysql.table\" = '{}'",
            self.table
        )
    }
    fn seed(&self, rows: &[Customer]) {
        use mysql::prelude::Queryable;
        let mut c = maria();
        for r in rows {
            c.exec_drop(
                format!("REPLACE INTO {} VALUES (?, ?, ?)", self.table),
                r.clone(),
            )
            .unwrap();
        }
    }
    fn get(&self, id: i32) -> Option<Customer> {
        use mysql::prelude::Queryable;
        maria()
            .exec_first(
                format!("SELECT id, name, tier FROM {} WHERE id = ?", self.table),
                (id,),
            )
            .unwrap()
    }
}

struct Redis {
    url: String,
    prefix: String,
}

impl Redis {
    fn new() -> Redis {
        Redis::at("redis://127.0.0.1:6379/")
    }
    fn at(url: &str) -> Redis {
        Redis {
            url: url.to_string(),
            prefix: format!("{}:", unique("app_rd")),
        }
    }
    fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_connection()
            .expect("Redis")
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Ok(mut c) = redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection()) {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}*", self.prefix))
                .query(&mut c)
                .unwrap_or_default();
            for k in keys {
                let _: Result<(), _> = redis::cmd("DEL").arg(k).query(&mut c);
            }
        }
    }
}

impl TestStore for Redis {
    fn with(&self) -> String {
        format!(
            "extension = 'redis', \"redis.url\" = '{}', \"redis.key.prefix\" = '{}'",
            self.url, self.prefix
        )
    }
    fn seed(&self, rows: &[Customer]) {
        let mut c = self.conn();
        for (id, name, tier) in rows {
            let key = format!("{}{id}", self.prefix);
            let _: () = redis::cmd("DEL").arg(&key).query(&mut c).unwrap();
            let mut cmd = redis::cmd("HSET");
            cmd.arg(&key).arg("id").arg(id);
            if let Some(n) = name {
                cmd.arg("name").arg(n);
            }
            if let Some(t) = tier {
                cmd.arg("tier").arg(t);
            }
            let _: () = cmd.query(&mut c).unwrap();
        }
    }
    fn get(&self, id: i32) -> Option<Customer> {
        let mut c = self.conn();
        let h: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
            .arg(format!("{}{id}", self.prefix))
            .query(&mut c)
            .unwrap();
        if h.is_empty() {
            return None;
        }
        Some((
            h["id"].parse().unwrap(),
            h.get("name").cloned(),
            h.get("tier").cloned(),
        ))
    }
}

fn cust(id: i32, name: &str, tier: &str) -> Customer {
    (id, Some(name.into()), Some(tier.into()))
}

/// Rows a stream received.
type Collected = Arc<Mutex<Vec<Vec<Value>>>>;

/// Collects the rows of a stream.
fn collect(app: &mut App, stream: &str) -> Collected {
    let rows = Arc::new(Mutex::new(Vec::new()));
    let sink = rows.clone();
    app.subscribe(stream, move |r| {
        sink.lock().unwrap().push(r.values.to_vec())
    })
    .unwrap();
    rows
}

fn take(rows: &Collected) -> Vec<Vec<Value>> {
    std::mem::take(&mut *rows.lock().unwrap())
}

fn s(x: &str) -> Value {
    Value::from(x)
}

const ENRICH: &str = "
CREATE STREAM Orders (id STRING, customer INT);
CREATE STREAM Signups (id INT, name STRING, tier STRING);
CREATE STREAM Upgrades (id INT, tier STRING);
CREATE STREAM Leaves (id INT);
CREATE STREAM Visits (id INT, name STRING);
CREATE TABLE Customers (id INT, name STRING, tier STRING, PRIMARY KEY (id)) WITH ({with});
INSERT INTO Enriched SELECT o.id, c.name, c.tier FROM Orders AS o JOIN Customers AS c ON o.customer = c.id;
INSERT INTO Everyone SELECT o.id, c.name FROM Orders AS o LEFT JOIN Customers AS c ON o.customer = c.id;
INSERT INTO Known SELECT id FROM Orders WHERE customer IN Customers;
UPSERT INTO Customers SELECT id, name, tier FROM Signups;
UPDATE Customers SET tier = u.tier FROM Upgrades AS u ON Customers.id = u.id;
DELETE FROM Customers USING Leaves AS l ON Customers.id = l.id;
SELECT id, name FROM Visits UPDATE OR INSERT INTO Customers SET Customers.name = name ON Customers.id = id;
";

/// Reads, every write form, and what the store holds afterwards.
fn enrich_and_write(store: &dyn TestStore) {
    store.seed(&[cust(1, "Ann", "gold"), cust(2, "Bob", "silver")]);
    let sql = ENRICH.replace(
        "{with}",
        &format!("{}, \"cache.size\" = '100'", store.with()),
    );
    let mut app = App::from_sql(&sql).unwrap();
    let enriched = collect(&mut app, "Enriched");
    let everyone = collect(&mut app, "Everyone");
    let known = collect(&mut app, "Known");
    let orders = app.input("Orders").unwrap();
    let signups = app.input("Signups").unwrap();
    let upgrades = app.input("Upgrades").unwrap();
    let leaves = app.input("Leaves").unwrap();
    let visits = app.input("Visits").unwrap();

    app.send_at(orders, 1_000, &[s("o1"), Value::from(1)])
        .unwrap();
    app.send_at(orders, 1_001, &[s("o2"), Value::from(3)])
        .unwrap();
    assert_eq!(take(&enriched), vec![vec![s("o1"), s("Ann"), s("gold")]]);
    assert_eq!(
        take(&everyone),
        vec![vec![s("o1"), s("Ann")], vec![s("o2"), Value::Null]]
    );
    assert_eq!(take(&known), vec![vec![s("o1")]]);

    // Writes go through to the store, and later reads see them.
    app.send_at(signups, 2_000, &[Value::from(3), s("Cid"), s("bronze")])
        .unwrap();
    assert_eq!(store.get(3), Some(cust(3, "Cid", "bronze")));
    app.send_at(upgrades, 2_001, &[Value::from(3), s("gold")])
        .unwrap();
    assert_eq!(store.get(3), Some(cust(3, "Cid", "gold")));
    app.send_at(orders, 2_002, &[s("o3"), Value::from(3)])
        .unwrap();
    assert_eq!(take(&enriched), vec![vec![s("o3"), s("Cid"), s("gold")]]);
    // An update matching nothing writes nothing.
    app.send_at(upgrades, 2_003, &[Value::from(42), s("gold")])
        .unwrap();
    assert_eq!(store.get(42), None);
    // UPSERT replaces on key.
    app.send_at(signups, 2_004, &[Value::from(1), s("Ann"), s("platinum")])
        .unwrap();
    assert_eq!(store.get(1), Some(cust(1, "Ann", "platinum")));
    // UPDATE OR INSERT: updates a row that exists, inserts one that does not.
    app.send_at(visits, 2_005, &[Value::from(2), s("Bobby")])
        .unwrap();
    assert_eq!(store.get(2), Some(cust(2, "Bobby", "silver")));
    app.send_at(visits, 2_006, &[Value::from(7), s("Dee")])
        .unwrap();
    assert_eq!(store.get(7), Some((7, Some("Dee".into()), None)));
    // DELETE, and the join no longer finds the row.
    app.send_at(leaves, 3_000, &[Value::from(3)]).unwrap();
    assert_eq!(store.get(3), None);
    app.send_at(orders, 3_001, &[s("o4"), Value::from(3)])
        .unwrap();
    app.send_at(orders, 3_002, &[s("o5"), Value::from(7)])
        .unwrap();
    assert_eq!(take(&enriched), vec![vec![s("o5"), s("Dee"), Value::Null]]);
    assert!(app.take_errors().is_empty());
    let stats = app.shutdown();
    assert_eq!(stats.table_stores.len(), 1);
    assert_eq!(stats.table_stores[0].failed_events, 0);
}

#[test]
fn postgres_enrichment_and_writes() {
    enrich_and_write(&Postgres::new());
}

#[test]
fn mysql_enrichment_and_writes() {
    enrich_and_write(&Maria::new());
}

#[test]
fn redis_enrichment_and_writes() {
    enrich_and_write(&Redis::new());
}

const LOOKUP: &str = "
CREATE STREAM Orders (id STRING, customer INT);
CREATE TABLE Customers (id INT, name STRING, tier STRING, PRIMARY KEY (id)) WITH ({with});
INSERT INTO Enriched SELECT o.id, c.name FROM Orders AS o JOIN Customers AS c ON o.customer = c.id;
";

/// Cache hits and misses, negative entries and TTL on the virtual clock: a change made behind
/// the app's back shows only once the cached entry has expired.
#[test]
fn cache_ttl_and_negative_entries_on_the_virtual_clock() {
    let store = Postgres::new();
    store.seed(&[cust(1, "Ann", "gold")]);
    let with = format!(
        "{}, \"cache.policy\" = 'LRU', \"cache.size\" = '10', \"cache.ttl\" = '10 sec'",
        store.with()
    );
    let mut app = App::from_sql(&LOOKUP.replace("{with}", &with)).unwrap();
    let out = collect(&mut app, "Enriched");
    let orders = app.input("Orders").unwrap();
    app.send_at(orders, 1_000, &[s("a"), Value::from(1)])
        .unwrap();
    app.send_at(orders, 1_001, &[s("b"), Value::from(2)])
        .unwrap();
    store.seed(&[cust(1, "Anna", "gold"), cust(2, "Bea", "gold")]);
    // Within the TTL: the cached row and the remembered miss hold.
    app.send_at(orders, 10_999, &[s("c"), Value::from(1)])
        .unwrap();
    app.send_at(orders, 11_000, &[s("d"), Value::from(2)])
        .unwrap();
    // Once they expire, the store is asked again.
    app.send_at(orders, 11_001, &[s("e"), Value::from(1)])
        .unwrap();
    app.send_at(orders, 11_002, &[s("f"), Value::from(2)])
        .unwrap();
    assert_eq!(
        take(&out),
        vec![
            vec![s("a"), s("Ann")],
            vec![s("c"), s("Ann")],
            vec![s("e"), s("Anna")],
            vec![s("f"), s("Bea")],
        ]
    );
    let st = &app.stats().table_stores[0];
    assert_eq!((st.cache.hits, st.cache.misses), (2, 4));
    assert_eq!(st.cache.expirations, 2);
    assert_eq!(st.connects, 1);
}

/// `cache.preload`: the table is loaded at start when it fits; every lookup is then a hit.
#[test]
fn preload_fills_the_cache_at_start() {
    let store = Redis::new();
    store.seed(&[cust(1, "Ann", "gold"), cust(2, "Bob", "silver")]);
    let with = format!(
        "{}, \"cache.size\" = '10', \"cache.preload\" = 'true'",
        store.with()
    );
    let mut app = App::from_sql(&LOOKUP.replace("{with}", &with)).unwrap();
    let out = collect(&mut app, "Enriched");
    let orders = app.input("Orders").unwrap();
    app.send_at(orders, 1_000, &[s("a"), Value::from(2)])
        .unwrap();
    // Loaded at start: a change behind the app's back is not seen (no TTL).
    store.seed(&[cust(1, "Changed", "gold")]);
    app.send_at(orders, 1_001, &[s("b"), Value::from(1)])
        .unwrap();
    assert_eq!(
        take(&out),
        vec![vec![s("a"), s("Bob")], vec![s("b"), s("Ann")]]
    );
    let st = &app.stats().table_stores[0];
    assert_eq!(
        (st.cache.hits, st.cache.misses, st.cache.entries),
        (2, 0, 2)
    );
}

/// A store that cannot be reached: each event is reported by the `log` strategy and dropped,
/// the app keeps running, and a query's own `'error.strategy'` routes its events instead.
#[test]
fn unreachable_store_log_and_query_stream_strategies() {
    let sql = "
CREATE STREAM Orders (id STRING, customer INT);
CREATE TABLE Customers (id INT, name STRING, PRIMARY KEY (id))
WITH (extension = 'postgres', \"postgres.url\" = 'postgres://postgres@127.0.0.1:1/test');
INSERT INTO Enriched SELECT o.id, c.name FROM Orders AS o JOIN Customers AS c ON o.customer = c.id;
@option('error.strategy', 'stream') @option('error.stream', 'Failed')
INSERT INTO Known SELECT id FROM Orders WHERE customer IN Customers;
INSERT INTO Plain SELECT id FROM Orders;
";
    let mut app = App::from_sql(sql).unwrap();
    let failed = collect(&mut app, "Failed");
    let plain = collect(&mut app, "Plain");
    let orders = app.input("Orders").unwrap();
    app.send_at(orders, 1_000, &[s("o1"), Value::from(1)])
        .unwrap();
    app.send_at(orders, 1_001, &[s("o\"2"), Value::from(2)])
        .unwrap();
    let errors = app.take_errors();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with(
            "query 'query-1': table 'Customers': postgres table 'Customers' is unavailable:"
        ),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].ends_with(r#"event dropped: {"id": "o\"2", "customer": 2}"#),
        "{}",
        errors[1]
    );
    let routed = take(&failed);
    assert_eq!(routed.len(), 2);
    assert_eq!(routed[0][0], s(r#"{"id": "o1", "customer": 1}"#));
    assert!(
        matches!(&routed[0][1], Value::String(e) if e.starts_with("query 'query-2': table 'Customers': postgres table 'Customers' is unavailable")),
        "{:?}",
        routed[0][1]
    );
    // Queries not reading the table are not affected.
    assert_eq!(take(&plain).len(), 2);
    assert_eq!(app.stats().table_stores[0].failed_events, 4);
}

/// `'error.strategy' = 'fail'` on the table: the first failure stops the app.
#[test]
fn fail_strategy_stops_the_app() {
    let sql = "
CREATE STREAM Orders (id STRING, customer INT);
CREATE TABLE Customers (id INT, name STRING, PRIMARY KEY (id))
WITH (extension = 'redis', \"redis.url\" = 'redis://127.0.0.1:1/', 'error.strategy' = 'fail');
INSERT INTO Enriched SELECT o.id, c.name FROM Orders AS o JOIN Customers AS c ON o.customer = c.id;
";
    let mut app = App::from_sql(sql).unwrap();
    let orders = app.input("Orders").unwrap();
    let e = app
        .send_at(orders, 1_000, &[s("o1"), Value::from(1)])
        .unwrap_err();
    assert!(
        matches!(&e, Error::Stopped(m) if m.contains("redis table 'Customers'")),
        "{e}"
    );
    assert!(matches!(
        app.send_at(orders, 1_001, &[s("o2"), Value::from(1)]),
        Err(Error::Stopped(_))
    ));
}

/// Wrong credentials: every event gets the server's refusal, and the app keeps running.
#[test]
fn wrong_credentials_are_reported_per_event() {
    let sql = "
CREATE STREAM Orders (id STRING, customer INT);
CREATE TABLE Customers (id INT, name STRING, PRIMARY KEY (id))
WITH (extension = 'mysql', \"mysql.url\" = 'mysql://nobody:wrong@127.0.0.1:3306/test');
INSERT INTO Enriched SELECT o.id, c.name FROM Orders AS o JOIN Customers AS c ON o.customer = c.id;
";
    let mut app = App::from_sql(sql).unwrap();
    let orders = app.input("Orders").unwrap();
    for i in 0..3 {
        app.send_at(orders, 1_000 + i, &[s("o"), Value::from(1)])
            .unwrap();
    }
    let errors = app.take_errors();
    assert_eq!(errors.len(), 3);
    assert!(errors.iter().all(|e| e.contains("nobody")), "{errors:?}");
}

/// A private Redis server, stopped and restarted during the run.
struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    fn start(port: u16) -> RedisServer {
        let mut s = RedisServer { port, child: None };
        s.restart();
        s
    }
    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server");
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn store_stopped_mid_run_and_restarted() {
    let port = 20_000 + (std::process::id() % 10_000) as u16;
    let mut server = RedisServer::start(port);
    let store = Redis::at(&format!("redis://127.0.0.1:{port}/"));
    store.seed(&[cust(1, "Ann", "gold")]);
    let mut app = App::from_sql(&LOOKUP.replace("{with}", &store.with())).unwrap();
    let out = collect(&mut app, "Enriched");
    let orders = app.input("Orders").unwrap();
    app.send_at(orders, 1_000, &[s("a"), Value::from(1)])
        .unwrap();
    server.stop();
    app.send_at(orders, 1_001, &[s("b"), Value::from(1)])
        .unwrap();
    let errors = app.take_errors();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("is unavailable"), "{}", errors[0]);
    // The server is back (empty: it keeps nothing); the app reconnects by itself once the
    // backoff allows, without being restarted.
    server.restart();
    store.seed(&[cust(1, "Ann again", "gold")]);
    let start = Instant::now();
    let mut t = 1_002;
    loop {
        app.send_at(orders, t, &[s("c"), Value::from(1)]).unwrap();
        if app.take_errors().is_empty() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "no reconnect");
        std::thread::sleep(Duration::from_millis(50));
        t += 1;
    }
    let rows = take(&out);
    assert_eq!(rows.first(), Some(&vec![s("a"), s("Ann")]));
    assert_eq!(rows.last(), Some(&vec![s("c"), s("Ann again")]));
    assert!(app.stats().table_stores[0].connects >= 2);
}

/// The same enrichment through the binary: output on stdout, store errors on stderr with the
/// input line, counters with `--stats`.
#[test]
fn binary_reports_store_errors_by_line() {
    let store = Postgres::new();
    store.seed(&[cust(1, "Ann", "gold")]);
    let dir = std::env::temp_dir().join(unique("bin"));
    std::fs::create_dir_all(&dir).unwrap();
    let app = dir.join("app.sql");
    let with = format!("{}, \"cache.size\" = '10'", store.with());
    let good = LOOKUP.replace("{with}", &with);
    let bad = LOOKUP.replace(
        "{with}",
        "extension = 'postgres', \"postgres.url\" = 'postgres://postgres@127.0.0.1:1/test'",
    );
    let input = dir.join("input.ndjson");
    std::fs::write(
        &input,
        "{\"stream\":\"Orders\",\"ts\":1000,\"data\":{\"id\":\"a\",\"customer\":1}}\n\
         {\"stream\":\"Orders\",\"ts\":2000,\"data\":{\"id\":\"b\",\"customer\":2}}\n\
         {\"stream\":\"Orders\",\"ts\":3000,\"data\":{\"id\":\"c\",\"customer\":1}}\n",
    )
    .unwrap();
    let run = |sql: &str| {
        std::fs::write(&app, sql).unwrap();
        Command::new(env!("CARGO_BIN_EXE_eventflux"))
            .arg("run")
            .arg(&app)
            .arg("--replay")
            .arg(&input)
            .arg("--stats")
            .output()
            .unwrap()
    };
    let ok = run(&good);
    assert!(ok.status.success());
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout),
        "{\"stream\": \"Enriched\", \"ts\": 1000, \"data\": {\"id\": \"a\", \"name\": \"Ann\"}}\n\
         {\"stream\": \"Enriched\", \"ts\": 3000, \"data\": {\"id\": \"c\", \"name\": \"Ann\"}}\n"
    );
    let err = String::from_utf8_lossy(&ok.stderr);
    assert!(
        err.contains("table Customers (postgres): cache 2 of 10 entries, 1 hits, 2 misses"),
        "{err}"
    );
    let failed = run(&bad);
    assert!(failed.status.success(), "log strategy: the run goes on");
    assert!(failed.stdout.is_empty());
    let err = String::from_utf8_lossy(&failed.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(lines[0].starts_with("line 1: error: query 'query-1': table 'Customers':"));
    assert!(lines[2].starts_with("line 3: error:"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A chain of lookups across two stores: orders enriched from PostgreSQL, then from Redis by
/// a column of the PostgreSQL row (looked up per arrival, both through their caches).
#[test]
fn chain_across_postgres_and_redis() {
    let customers = Postgres::new();
    customers.seed(&[cust(1, "Ann", "gold"), cust(2, "Bob", "silver")]);
    let tiers = Redis::new();
    let _: () = redis::cmd("HSET")
        .arg(format!("{}gold", tiers.prefix))
        .arg("tier")
        .arg("gold")
        .arg("discount")
        .arg("0.2")
        .query(&mut tiers.conn())
        .unwrap();
    let sql = format!(
        "CREATE STREAM Orders (id STRING, customer INT, amount DOUBLE);
CREATE TABLE Customers (id INT, name STRING, tier STRING, PRIMARY KEY (id)) WITH ({}, \"cache.size\" = '10');
CREATE TABLE Tiers (tier STRING, discount DOUBLE, PRIMARY KEY (tier)) WITH ({}, \"cache.size\" = '10');
INSERT INTO Enriched SELECT o.id, c.name, t.discount * o.amount AS off
FROM Orders AS o JOIN Customers AS c ON o.customer = c.id LEFT JOIN Tiers AS t ON c.tier = t.tier;",
        customers.with(),
        tiers.with()
    );
    let mut app = App::from_sql(&sql).unwrap();
    let out = collect(&mut app, "Enriched");
    let orders = app.input("Orders").unwrap();
    app.send_at(orders, 1_000, &[s("a"), Value::from(1), Value::from(100.0)])
        .unwrap();
    app.send_at(orders, 1_001, &[s("b"), Value::from(2), Value::from(50.0)])
        .unwrap();
    app.send_at(orders, 1_002, &[s("c"), Value::from(3), Value::from(10.0)])
        .unwrap();
    app.send_at(orders, 1_003, &[s("d"), Value::from(1), Value::from(10.0)])
        .unwrap();
    assert_eq!(
        take(&out),
        vec![
            vec![s("a"), s("Ann"), Value::from(20.0)],
            vec![s("b"), s("Bob"), Value::Null],
            vec![s("d"), s("Ann"), Value::from(2.0)],
        ]
    );
    assert!(app.take_errors().is_empty());
    let stats = app.stats();
    let tiers_stats = stats
        .table_stores
        .iter()
        .find(|t| t.table == "Tiers")
        .unwrap();
    assert_eq!((tiers_stats.cache.hits, tiers_stats.cache.misses), (1, 2));
}

/// `examples/enrichment` (the README's enrichment example) runs as documented: its
/// PostgreSQL setup, then the binary on its events, output as expected.
#[test]
fn readme_enrichment_example() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/enrichment");
    let setup = std::fs::read_to_string(dir.join("setup.sql")).unwrap();
    pg().batch_execute(&setup).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_eventflux"))
        .current_dir(&dir)
        .args(["run", "app.sql", "--replay", "events.ndjson"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        std::fs::read_to_string(dir.join("expected.ndjson")).unwrap()
    );
}
