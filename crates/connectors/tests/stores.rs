//! The external table stores against the real servers on this machine (PostgreSQL on 5432,
//! MariaDB on 3306, Redis on 6379; `scripts/services.sh` starts them). Each test makes its own
//! table, user or key prefix and removes it.
//!
//! Covered for every store: writes and batched reads in key order (found and missing), replace
//! on key, deletes, scans; a connection killed by the server mid-run (the next call reports the
//! store unavailable, a later one reconnects); wrong credentials; a store that is not there at
//! all. The cache in front of a store is tested through the app
//! (`crates/eventflux/tests/external_tables.rs`).

use eventflux_connectors::stores::open_store;
use eventflux_planner::types::Type;
use eventflux_runtime::external::{ExternalStore, StoreError, StoreSchema};
use eventflux_runtime::value::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "ef_{tag}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn schema(table: &str) -> StoreSchema {
    StoreSchema {
        table: table.into(),
        columns: vec![
            ("id".into(), Type::Long),
            ("name".into(), Type::String),
            ("score".into(), Type::Double),
            ("n".into(), Type::Int),
            ("ok".into(), Type::Bool),
        ],
        key: vec![0],
    }
}

fn row(id: i64, name: &str, score: f64, n: i32, ok: bool) -> Vec<Value> {
    vec![
        Value::Long(id),
        Value::string(name),
        Value::Double(score),
        Value::Int(n),
        Value::Bool(ok),
    ]
}

fn key(id: i64) -> Vec<Value> {
    vec![Value::Long(id)]
}

fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Retries `f` until it succeeds (a reconnect waits for its backoff), for at most 10 s.
fn eventually<T>(mut f: impl FnMut() -> Result<T, StoreError>) -> T {
    let start = Instant::now();
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if start.elapsed() < Duration::from_secs(10) => {
                assert!(matches!(e, StoreError::Unavailable { .. }), "{e}");
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("did not recover: {e}"),
        }
    }
}

/// The behaviour every store shares: writes, batched reads in key order (found and missing),
/// NULL columns, replace on key, delete, scan, batches larger than one statement. (The cache in
/// front of a store is tested through the app: `crates/eventflux/tests/external_tables.rs`.)
fn exercise(mut s: Box<dyn ExternalStore>, _table: &str) {
    let null_row = vec![
        Value::Long(3),
        Value::Null,
        Value::Null,
        Value::Null,
        Value::Null,
    ];
    s.upsert(&[
        row(1, "one", 1.5, 10, true),
        row(2, "two", 2.5, 20, false),
        null_row.clone(),
    ])
    .unwrap();
    let mut out = Vec::new();
    s.lookup(&[key(2), key(9), key(1), key(3), key(2)], &mut out)
        .unwrap();
    assert_eq!(
        out,
        vec![
            Some(row(2, "two", 2.5, 20, false)),
            None,
            Some(row(1, "one", 1.5, 10, true)),
            Some(null_row),
            Some(row(2, "two", 2.5, 20, false)),
        ]
    );

    // Replace on key, delete.
    s.upsert(&[row(1, "uno", -1.0, -10, false)]).unwrap();
    out.clear();
    s.lookup(&[key(1)], &mut out).unwrap();
    assert_eq!(out, vec![Some(row(1, "uno", -1.0, -10, false))]);
    s.delete(&[key(1), key(2)]).unwrap();
    out.clear();
    s.lookup(&[key(1), key(2)], &mut out).unwrap();
    assert_eq!(out, vec![None, None]);

    // Scan (for cache.preload).
    s.upsert(&[row(9, "nine", 9.0, 90, true)]).unwrap();
    let mut rows = s.scan(10).unwrap();
    rows.sort_by_key(|r| r[0].as_i64());
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1], row(9, "nine", 9.0, 90, true));
    assert_eq!(s.scan(1).unwrap().len(), 1);

    // A batch larger than one statement's chunk.
    let many: Vec<Vec<Value>> = (100..1_300)
        .map(|i| row(i, "bulk", i as f64, i as i32, i % 2 == 0))
        .collect();
    s.upsert(&many).unwrap();
    let keys: Vec<Vec<Value>> = (100..1_300).map(key).collect();
    out.clear();
    s.lookup(&keys, &mut out).unwrap();
    assert_eq!(out.len(), 1_200);
    assert!(out
        .iter()
        .zip(&many)
        .all(|(got, want)| got.as_ref() == Some(want)));
}

fn psql(sql: &str) {
    let mut c =
        postgres::Client::connect("host=127.0.0.1 user=postgres dbname=test", postgres::NoTls)
            .expect("PostgreSQL on 127.0.0.1:5432");
    c.batch_execute(sql).unwrap();
}

#[test]
fn postgres_store() {
    let table = unique("pg");
    psql(&format!(
        "CREATE TABLE {table} (id BIGINT PRIMARY KEY, name TEXT, score DOUBLE PRECISION, \
         n INTEGER, ok BOOLEAN)"
    ));
    let url = format!("postgres://postgres@127.0.0.1:5432/test?application_name={table}");
    let opts = options(&[("postgres.url", &url)]);
    exercise(
        open_store("postgres", &opts, schema(&table)).unwrap(),
        &table,
    );

    // The server ends the connection mid-run: the next call says the store is unavailable,
    // and a later one reconnects by itself.
    let mut s = open_store("postgres", &opts, schema(&table)).unwrap();
    let mut out = Vec::new();
    s.lookup(&[key(9)], &mut out).unwrap();
    psql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{table}'"
    ));
    let e = s.lookup(&[key(9)], &mut out).unwrap_err();
    assert!(matches!(e, StoreError::Unavailable { .. }), "{e}");
    out.clear();
    eventually(|| s.lookup(&[key(9)], &mut out));
    assert_eq!(
        out.last().cloned().flatten(),
        Some(row(9, "nine", 9.0, 90, true))
    );
    assert!(s.connection_stats().0 >= 2, "connected again");
    psql(&format!("DROP TABLE {table}"));

    // A role that does not exist: refused, with the server's reason.
    let bad = options(&[(
        "postgres.url",
        "postgres://no_such_role@127.0.0.1:5432/test",
    )]);
    let e = open_store("postgres", &bad, schema(&table))
        .unwrap()
        .lookup(&[key(1)], &mut out)
        .unwrap_err();
    assert!(e.to_string().contains("no_such_role"), "{e}");
    // A missing table: refused, the connection stays usable.
    let e = open_store("postgres", &opts, schema("ef_no_such_table"))
        .unwrap()
        .lookup(&[key(1)], &mut out)
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Rejected { reason, .. } if reason.contains("does not exist")),
        "{e}"
    );
}

fn mysql_root() -> mysql::Conn {
    mysql::Conn::new(mysql::Opts::from_url("mysql://root@127.0.0.1:3306/test").unwrap())
        .expect("MariaDB on 127.0.0.1:3306")
}

#[test]
fn mysql_store() {
    use mysql::prelude::Queryable;
    let table = unique("my");
    let user = table.clone();
    let mut root = mysql_root();
    root.query_drop(format!(
        "CREATE TABLE {table} (id BIGINT PRIMARY KEY, name TEXT, score DOUBLE, n INT, ok BOOLEAN)"
    ))
    .unwrap();
    root.query_drop(format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'"))
        .unwrap();
    root.query_drop(format!(
        "CREATE USER '{user}'@'localhost' IDENTIFIED BY 'pw'"
    ))
    .unwrap();
    root.query_drop(format!("GRANT ALL ON test.* TO '{user}'@'%'"))
        .unwrap();
    root.query_drop(format!("GRANT ALL ON test.* TO '{user}'@'localhost'"))
        .unwrap();
    let url = format!("mysql://{user}:pw@127.0.0.1:3306/test");
    let opts = options(&[("mysql.url", &url)]);
    exercise(open_store("mysql", &opts, schema(&table)).unwrap(), &table);

    // The server kills the connection mid-run.
    let mut s = open_store("mysql", &opts, schema(&table)).unwrap();
    let mut out = Vec::new();
    s.lookup(&[key(9)], &mut out).unwrap();
    let ids: Vec<u64> = root
        .query(format!(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '{user}'"
        ))
        .unwrap();
    assert!(!ids.is_empty());
    for id in ids {
        root.query_drop(format!("KILL {id}")).unwrap();
    }
    let e = s.lookup(&[key(9)], &mut out).unwrap_err();
    assert!(matches!(e, StoreError::Unavailable { .. }), "{e}");
    out.clear();
    eventually(|| s.lookup(&[key(9)], &mut out));
    assert_eq!(
        out.last().cloned().flatten(),
        Some(row(9, "nine", 9.0, 90, true))
    );

    // Wrong password: refused with the server's reason.
    let bad = options(&[(
        "mysql.url",
        &format!("mysql://{user}:wrong@127.0.0.1:3306/test"),
    )]);
    let e = open_store("mysql", &bad, schema(&table))
        .unwrap()
        .lookup(&[key(1)], &mut out)
        .unwrap_err();
    assert!(e.to_string().contains("Access denied"), "{e}");

    root.query_drop(format!("DROP TABLE {table}")).unwrap();
    root.query_drop(format!("DROP USER '{user}'@'%'")).unwrap();
    root.query_drop(format!("DROP USER '{user}'@'localhost'"))
        .unwrap();
}

fn redis_admin() -> redis::Connection {
    redis::Client::open("redis://127.0.0.1:6379/")
        .unwrap()
        .get_connection()
        .expect("Redis on 127.0.0.1:6379")
}

#[test]
fn redis_store() {
    let prefix = format!("{}:", unique("rd"));
    let user = unique("rduser");
    let mut admin = redis_admin();
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg(&user)
        .arg("on")
        .arg(">pw")
        .arg("~*")
        .arg("+@all")
        .query::<()>(&mut admin)
        .unwrap();
    let url = format!("redis://{user}:pw@127.0.0.1:6379/");
    let opts = options(&[("redis.url", &url), ("redis.key.prefix", &prefix)]);
    exercise(open_store("redis", &opts, schema("T")).unwrap(), "T");

    // The server drops the client mid-run.
    let mut s = open_store("redis", &opts, schema("T")).unwrap();
    let mut out = Vec::new();
    s.lookup(&[key(9)], &mut out).unwrap();
    redis::cmd("CLIENT")
        .arg("KILL")
        .arg("USER")
        .arg(&user)
        .query::<i64>(&mut admin)
        .unwrap();
    let e = s.lookup(&[key(9)], &mut out).unwrap_err();
    assert!(matches!(e, StoreError::Unavailable { .. }), "{e}");
    out.clear();
    eventually(|| s.lookup(&[key(9)], &mut out));
    assert_eq!(
        out.last().cloned().flatten(),
        Some(row(9, "nine", 9.0, 90, true))
    );

    // Wrong password.
    let bad = options(&[(
        "redis.url",
        &format!("redis://{user}:wrong@127.0.0.1:6379/"),
    )]);
    let e = open_store("redis", &bad, schema("T"))
        .unwrap()
        .lookup(&[key(1)], &mut out)
        .unwrap_err();
    assert!(
        e.to_string()
            .to_lowercase()
            .contains("authentication failed"),
        "{e}"
    );

    // Clean up the keys and the user.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut admin)
        .unwrap();
    if !keys.is_empty() {
        redis::cmd("DEL").arg(keys).query::<()>(&mut admin).unwrap();
    }
    redis::cmd("ACL")
        .arg("DELUSER")
        .arg(&user)
        .query::<()>(&mut admin)
        .unwrap();
}

/// Nothing listens on the port: unavailable at once, then failing fast (no connect attempt)
/// until the backoff allows the next one.
#[test]
fn unreachable_stores_fail_fast_with_a_clear_error() {
    let mut out = Vec::new();
    for (ext, key_name, url) in [
        (
            "postgres",
            "postgres.url",
            "postgres://postgres@127.0.0.1:1/test",
        ),
        ("mysql", "mysql.url", "mysql://root@127.0.0.1:1/test"),
        ("redis", "redis.url", "redis://127.0.0.1:1/"),
    ] {
        let mut s = open_store(ext, &options(&[(key_name, url)]), schema("T")).unwrap();
        let e = s.lookup(&[key(1)], &mut out).unwrap_err();
        assert!(matches!(e, StoreError::Unavailable { .. }), "{ext}: {e}");
        assert!(e.to_string().contains("unavailable"), "{e}");
        let e = s.lookup(&[key(1)], &mut out).unwrap_err();
        assert!(e.to_string().contains("reconnecting in"), "{ext}: {e}");
    }
    let e = open_store("postgres", &options(&[]), schema("T")).err();
    assert!(
        e.is_some_and(|e| e.to_string().contains("'postgres.url' is required")),
        "a missing url is refused"
    );
}
