//! `file` source (one message per line; `file.tail` follows a growing file, `file.start` =
//! 'beginning' | 'end') and sink (one message per line; `file.append`).

use super::{Counters, Options, Sink, Source, SourceCtx};
use crate::format::Format;
use bytes::Bytes;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Lines handed to the engine per delivery at most.
const LINES_PER_DELIVERY: usize = 1024;

pub struct FileSource {
    path: String,
    tail: bool,
    from_end: bool,
}

impl FileSource {
    pub fn new(o: &Options<'_>) -> Result<FileSource, String> {
        let from_end = match o.get("file.start").map(str::to_ascii_lowercase).as_deref() {
            None | Some("beginning") => false,
            Some("end") => true,
            Some(other) => {
                return Err(format!(
                    "stream '{}': 'file.start' must be 'beginning' or 'end', found '{other}'",
                    o.stream
                ))
            }
        };
        Ok(FileSource {
            path: o.required("file.path")?.to_string(),
            tail: o.flag("file.tail", false)?,
            from_end,
        })
    }
}

impl Source for FileSource {
    fn run(self: Box<Self>, mut ctx: SourceCtx) -> Result<(), String> {
        let file = File::open(&self.path)
            .map_err(|e| format!("stream '{}': cannot open '{}': {e}", ctx.name, self.path))?;
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let skip_header = matches!(ctx.decoder.format(), Format::Csv { header: true, .. });
        if self.from_end {
            reader
                .seek(SeekFrom::End(0))
                .map_err(|e| format!("stream '{}': {e}", ctx.name))?;
        } else if skip_header {
            let mut header = Vec::new();
            let _ = reader.read_until(b'\n', &mut header);
        }
        let mut lines: Vec<Vec<u8>> = Vec::new();
        let mut partial: Vec<u8> = Vec::new();
        loop {
            if ctx.stopped() {
                return Ok(());
            }
            let mut line = std::mem::take(&mut partial);
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| format!("stream '{}': reading '{}': {e}", ctx.name, self.path))?;
            let complete = line.ends_with(b"\n");
            if n > 0 && (complete || !self.tail) {
                while matches!(line.last(), Some(b'\n' | b'\r')) {
                    line.pop();
                }
                if !line.is_empty() {
                    lines.push(line);
                }
                if lines.len() < LINES_PER_DELIVERY {
                    continue;
                }
            } else {
                // A line still being written (or nothing new yet): keep what there is until
                // its newline arrives.
                partial = line;
            }
            let at_end = n == 0 || (!complete && self.tail);
            if !lines.is_empty() {
                let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
                let end = at_end && !self.tail;
                if !ctx.deliver(&refs, None, end) {
                    return Ok(());
                }
                lines.clear();
                if end {
                    return Ok(());
                }
            }
            if at_end {
                if !self.tail {
                    ctx.deliver(&[], None, true);
                    return Ok(());
                }
                // Following a growing file: poll for more (a file has no wake-up to wait on).
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

pub struct FileSink {
    file: File,
    path: String,
    buf: Vec<u8>,
}

impl FileSink {
    pub fn new(o: &Options<'_>, header: Option<Vec<u8>>) -> Result<FileSink, String> {
        let path = o.required("file.path")?.to_string();
        let append = o.flag("file.append", true)?;
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(&path)
            .map_err(|e| format!("stream '{}': cannot open '{path}': {e}", o.stream))?;
        let empty = file.metadata().map(|m| m.len() == 0).unwrap_or(true);
        if let (Some(mut h), true) = (header, empty) {
            h.push(b'\n');
            file.write_all(&h)
                .map_err(|e| format!("stream '{}': writing '{path}': {e}", o.stream))?;
        }
        Ok(FileSink {
            file,
            path,
            buf: Vec::new(),
        })
    }
}

impl Sink for FileSink {
    fn send(
        &mut self,
        messages: &[Bytes],
        _stop: &AtomicBool,
        _counters: &Counters,
    ) -> Result<(), String> {
        self.buf.clear();
        for m in messages {
            self.buf.extend_from_slice(m);
            self.buf.push(b'\n');
        }
        self.file
            .write_all(&self.buf)
            .and_then(|()| self.file.flush())
            .map_err(|e| format!("writing '{}': {e}", self.path))
    }
}
