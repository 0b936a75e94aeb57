//! Helpers shared by the connector test binaries: unique names, scratch directories, the app
//! run live by the binary, and broker processes a test stops and restarts.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A name no other test (or earlier run) uses.
pub fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(unique(tag));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The app, run live by the binary until killed.
pub struct Running(pub Child);

impl Running {
    pub fn start(dir: &std::path::Path, sql: &str) -> Running {
        std::fs::write(dir.join("app.sql"), sql).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_eventflux"))
            .current_dir(dir)
            .args(["run", "app.sql"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Running(child)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One order as JSON; amounts cycle through 5..25.
pub fn order(id: i64) -> Vec<u8> {
    format!("{{\"id\": {id}, \"amount\": {}}}", 5 + id % 20).into_bytes()
}

/// Whether `order(id)` passes the test apps' `amount > 10` filter.
pub fn passes(id: i64) -> bool {
    5 + id % 20 > 10
}

/// A broker process of the test's own, stopped gracefully (SIGTERM, so it saves its state) and
/// started again on the same port and data directory.
pub struct Broker {
    cmd: Vec<String>,
    port: u16,
    child: Option<Child>,
    /// Environment of the broker process.
    pub env: Vec<(String, String)>,
    /// Where the broker writes its pid, when the spawned process is only a wrapper.
    pub pid_file: Option<PathBuf>,
    /// The broker's working directory.
    pub cwd: Option<PathBuf>,
}

impl Broker {
    pub fn start(cmd: Vec<String>, port: u16) -> Broker {
        let mut b = Broker::new(cmd, port);
        b.restart();
        b
    }
    /// A broker not started yet (`restart` starts it).
    pub fn new(cmd: Vec<String>, port: u16) -> Broker {
        Broker {
            cmd,
            port,
            child: None,
            env: Vec::new(),
            pid_file: None,
            cwd: None,
        }
    }
    pub fn restart(&mut self) {
        let mut cmd = Command::new(&self.cmd[0]);
        cmd.args(&self.cmd[1..])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(d) = &self.cwd {
            cmd.current_dir(d);
        }
        let child = cmd.spawn().expect("broker binary");
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{} did not start",
                self.cmd[0]
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    /// The broker's own process (the pid file's, or the spawned one).
    fn pid(&self, c: &Child) -> i32 {
        self.pid_file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|p| p.trim().parse::<i32>().ok())
            .unwrap_or(c.id() as i32)
    }
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = self.pid(&c);
            // SAFETY: sending a signal to a broker process this test started.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            let _ = c.wait();
            let start = Instant::now();
            // SAFETY: signal 0 only checks that the process still exists.
            while unsafe { libc::kill(pid, 0) } == 0 && start.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: killing a broker process this test started.
            unsafe {
                libc::kill(self.pid(&c), libc::SIGKILL);
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
