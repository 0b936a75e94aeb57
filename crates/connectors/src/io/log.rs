//! `log` sink: one readable line per event on stderr, after `log.prefix` (default: the stream's
//! name and a colon).

use super::{Counters, Options, Sink};
use bytes::Bytes;
use std::io::Write;
use std::sync::atomic::AtomicBool;

pub struct LogSink {
    prefix: String,
}

impl LogSink {
    pub fn new(o: &Options<'_>) -> LogSink {
        LogSink {
            prefix: o
                .get("log.prefix")
                .map_or_else(|| format!("{}: ", o.stream), str::to_string),
        }
    }
}

impl Sink for LogSink {
    fn send(
        &mut self,
        messages: &[Bytes],
        _stop: &AtomicBool,
        _counters: &Counters,
    ) -> Result<(), String> {
        let stderr = std::io::stderr();
        let mut err = stderr.lock();
        for m in messages {
            let _ = err.write_all(self.prefix.as_bytes());
            let _ = err.write_all(m);
            let _ = err.write_all(b"\n");
        }
        err.flush().map_err(|e| format!("writing to stderr: {e}"))
    }
}
