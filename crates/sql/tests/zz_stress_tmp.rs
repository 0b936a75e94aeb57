// TEMPORARY stress test — to be deleted.
use eventflux_sql::parse;
include!("/tmp/stress/vocab.rs");
struct Rng(u64);
impl Rng { fn next(&mut self) -> u64 { self.0 ^= self.0 << 13; self.0 ^= self.0 >> 7; self.0 ^= self.0 << 17; self.0 } }
#[test]
fn stress() {
    let mut r = Rng(0x9E3779B97F4A7C15);
    let n: usize = std::env::var("N").ok().and_then(|s| s.parse().ok()).unwrap_or(100000);
    for i in 0..n {
        let len = (r.next() % 200) as usize;
        let glue = r.next() % 4 == 0;
        let mut s = String::new();
        for _ in 0..len {
            let t = VOCAB[(r.next() % VOCAB.len() as u64) as usize];
            s.push_str(t);
            if !glue { s.push(' '); }
        }
        let res = std::panic::catch_unwind(|| parse(&s));
        if res.is_err() { panic!("case {i}: {s:?}"); }
        let (app, diags) = res.unwrap();
        for d in &diags { let _ = d.render("x", &s); assert!(d.span.end as usize <= s.len()); }
        let _ = app;
    }
}
#[test]
fn stack_use() {
    for kb in [std::env::var("KB").unwrap().parse::<usize>().unwrap()] {
        let r = std::thread::Builder::new().stack_size(kb * 1024).spawn(|| {
            let mut worst = String::new();
            worst.push_str("SELECT ");
            for _ in 0..99 { worst.push_str("f(CASE WHEN -("); }
            worst.push('1');
            for _ in 0..99 { worst.push_str(") THEN 1 END)"); }
            worst.push_str(" FROM S");
            let (_, d) = parse(&worst);
            let p = format!("SELECT * FROM PATTERN ({}A{})", "(EVERY ".repeat(99), ")".repeat(99));
            let (_, d2) = parse(&p);
            (d.len(), d2.len())
        }).unwrap().join();
        println!("{kb} KB: {:?}", r.is_ok());
    }
}
