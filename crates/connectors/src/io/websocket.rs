//! `websocket` source and sink (a client: `websocket.url`, `websocket.reconnect` default
//! 'true'). The source takes every text or binary message as one message; when the server
//! closes the connection it reconnects with backoff, or ends when `websocket.reconnect` is
//! 'false'. The sink sends one text message per event (binary when the payload is not UTF-8),
//! reconnecting and sending the batch again after a failure (at least once).

use super::{backoff, with_retries, Counters, Options, Sink, Source, SourceCtx};
use bytes::Bytes;
use std::net::TcpStream;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

fn connect(url: &str) -> Result<Socket, String> {
    let (mut ws, _) = tungstenite::connect(url).map_err(|e| format!("{url}: {e}"))?;
    if let MaybeTlsStream::Plain(s) = ws.get_mut() {
        // Reads wake up regularly so a stop is noticed.
        let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    }
    Ok(ws)
}

fn timed_out(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if matches!(io.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut))
}

pub struct WebSocketSource {
    url: String,
    reconnect: bool,
}

impl WebSocketSource {
    pub fn new(o: &Options<'_>) -> Result<WebSocketSource, String> {
        Ok(WebSocketSource {
            url: o.required("websocket.url")?.to_string(),
            reconnect: o.flag("websocket.reconnect", true)?,
        })
    }
}

impl Source for WebSocketSource {
    fn run(self: Box<Self>, mut ctx: SourceCtx) -> Result<(), String> {
        let mut failures = 0;
        let mut connected_once = false;
        while !ctx.stopped() {
            let mut ws = match connect(&self.url) {
                Ok(ws) => ws,
                Err(e) if !self.reconnect && !connected_once => return Err(e),
                Err(e) => {
                    if failures == 0 {
                        eprintln!(
                            "warning: websocket source '{}': {e}; reconnecting",
                            ctx.name
                        );
                    }
                    failures += 1;
                    backoff(failures, &ctx.stop);
                    continue;
                }
            };
            if connected_once {
                ctx.counters.add(&ctx.counters.reconnects, 1);
            }
            connected_once = true;
            failures = 0;
            while !ctx.stopped() {
                match ws.read() {
                    Ok(Message::Text(t)) => {
                        if !ctx.deliver(&[t.as_bytes()], None, false) {
                            return Ok(());
                        }
                    }
                    Ok(Message::Binary(b)) => {
                        if !ctx.deliver(&[b.as_ref()], None, false) {
                            return Ok(());
                        }
                    }
                    Ok(_) => {}
                    Err(e) if timed_out(&e) => {}
                    Err(_) => break,
                }
            }
            if !self.reconnect {
                ctx.deliver(&[], None, true);
                return Ok(());
            }
        }
        Ok(())
    }
}

pub struct WebSocketSink {
    url: String,
    ws: Option<Socket>,
}

impl WebSocketSink {
    pub fn new(o: &Options<'_>) -> Result<WebSocketSink, String> {
        Ok(WebSocketSink {
            url: o.required("websocket.url")?.to_string(),
            ws: None,
        })
    }

    fn try_send(&mut self, messages: &[Bytes]) -> Result<(), String> {
        if self.ws.is_none() {
            self.ws = Some(connect(&self.url)?);
        }
        let Some(ws) = self.ws.as_mut() else {
            return Err("not connected".into());
        };
        let mut result = Ok(());
        for m in messages {
            let msg = match std::str::from_utf8(m) {
                Ok(t) => Message::text(t),
                Err(_) => Message::binary(m.clone()),
            };
            if let Err(e) = ws.write(msg) {
                result = Err(format!("{}: {e}", self.url));
                break;
            }
        }
        if result.is_ok() {
            result = ws.flush().map_err(|e| format!("{}: {e}", self.url));
        }
        if result.is_err() {
            self.ws = None;
        }
        result
    }
}

impl Sink for WebSocketSink {
    fn send(
        &mut self,
        messages: &[Bytes],
        stop: &AtomicBool,
        counters: &Counters,
    ) -> Result<(), String> {
        with_retries("websocket sink", stop, counters, || self.try_send(messages))
    }
}
