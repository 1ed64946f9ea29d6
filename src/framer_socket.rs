//! One outbound WebSocket to Framer's Server API, opened from the Durable Object the way the
//! official client does on Workers: a `fetch` of the http(s) URL with `Upgrade: websocket` and
//! the API key, then `Response::websocket()`. Message encoding and decoding is `framer::wire`'s,
//! the URL `framer::project_url`'s, what a failure means `framer::error`'s;
//! this file runs the handshake, one call at a time by id, pings while waiting, and the
//! graceful disconnect, and counts calls and bytes sent. The stage and the runtime's words about
//! a failure go into the error for the log (`FramerError::log_detail`), never its message.

use futures::future::{select, Either};
use futures::StreamExt;
use notion_framer_core::framer::error::FramerError;
use notion_framer_core::framer::project_url;
use notion_framer_core::framer::wire::{self, Call, ClientMessage, Decoder, ServerMessage};
use std::time::Duration;
use worker::{Delay, EventStream, Fetch, Headers, Request, RequestInit, WebSocket, WebsocketEvent};

/// How long one call may wait for its answer (pings keep the socket alive meanwhile).
const CALL_TIMEOUT_MS: u64 = 120_000;
/// A disconnect waits this long for `disconnect-ack` before closing anyway.
const ACK_TIMEOUT_MS: u64 = 5_000;

/// Opens the WebSocket (not yet handshaken).
pub async fn open(
    server_url: &str,
    project: &str,
    api_key: &str,
) -> Result<WebSocket, FramerError> {
    let url = project_url::connect_url(server_url, project).map_err(FramerError::BadTarget)?;
    let closed = |e: worker::Error| FramerError::Closed {
        during: format!("connect ({e})"),
    };
    let headers = Headers::new();
    headers.set("upgrade", "websocket").map_err(closed)?;
    headers
        .set("authorization", &wire::authorization_header(api_key))
        .map_err(closed)?;
    let mut init = RequestInit::new();
    init.with_headers(headers);
    let request =
        Request::new_with_init(&project_url::upgrade_fetch_url(&url), &init).map_err(closed)?;
    let response = Fetch::Request(request).send().await.map_err(closed)?;
    let status = response.status_code();
    let ws = response
        .websocket()
        .ok_or(FramerError::Refused { status })?;
    ws.accept().map_err(closed)?;
    Ok(ws)
}

/// A handshaken connection. Calls are made one at a time.
pub struct FramerSocket<'ws> {
    ws: &'ws WebSocket,
    events: EventStream<'ws>,
    decoder: Decoder,
    next_id: u64,
    graceful: bool,
    /// Method invocations sent.
    pub calls: usize,
    /// Bytes of frame text sent.
    pub bytes_sent: usize,
}

impl<'ws> FramerSocket<'ws> {
    /// Runs the handshake on an open socket.
    pub async fn start(ws: &'ws WebSocket) -> Result<Self, FramerError> {
        let events = ws.events().map_err(|e| FramerError::Closed {
            during: format!("handshake ({e})"),
        })?;
        let mut socket = Self {
            ws,
            events,
            decoder: Decoder::new(),
            next_id: 0,
            graceful: false,
            calls: 0,
            bytes_sent: 0,
        };
        let deadline = wire::HANDSHAKE_TIMEOUT_MS;
        match socket.next_message("handshake", deadline).await? {
            ServerMessage::Ready {
                graceful_disconnect,
            } => socket.graceful = graceful_disconnect,
            other => return Err(unexpected(&other, "handshake")),
        }
        socket.send(&ClientMessage::PluginReadySignal)?;
        loop {
            match socket.next_message("handshake", deadline).await? {
                ServerMessage::PluginReadyResponse { .. } => return Ok(socket),
                ServerMessage::Other(_) => {}
                other => return Err(unexpected(&other, "handshake")),
            }
        }
    }

    fn send(&mut self, message: &ClientMessage) -> Result<(), FramerError> {
        let text = wire::encode(message);
        self.bytes_sent += text.len();
        self.ws
            .send_with_str(&text)
            .map_err(|e| FramerError::Closed {
                during: format!("send ({e})"),
            })
    }

    /// Invokes a method and waits for its answer.
    pub async fn call(&mut self, method: Call) -> Result<serde_json::Value, FramerError> {
        let id = self.next_id;
        self.next_id += 1;
        let name = method.method_name();
        self.send(&ClientMessage::Invocation { id, method })?;
        self.calls += 1;
        loop {
            match self.next_message(name, CALL_TIMEOUT_MS).await? {
                ServerMessage::Response { id: got, result } if got == id => {
                    return result.map_err(|message| FramerError::Method {
                        method: name,
                        message,
                    });
                }
                ServerMessage::Error {
                    code,
                    message,
                    retryable,
                } => {
                    return Err(FramerError::Server {
                        code,
                        message,
                        retryable,
                    });
                }
                // Late answers to nothing we wait for, and frames the client ignores.
                _ => {}
            }
        }
    }

    /// The next decoded frame; pings every 20 s while waiting, up to `timeout_ms`.
    async fn next_message(
        &mut self,
        during: &str,
        timeout_ms: u64,
    ) -> Result<ServerMessage, FramerError> {
        let mut waited = 0u64;
        loop {
            let tick = Delay::from(Duration::from_millis(wire::PING_INTERVAL_MS));
            let event = match select(self.events.next(), tick).await {
                Either::Left((event, _)) => Some(event),
                Either::Right(((), _)) => None,
            };
            match event {
                Some(Some(Ok(WebsocketEvent::Message(message)))) => {
                    let Some(text) = message.text() else { continue };
                    match self.decoder.push(&text) {
                        Ok(Some(ServerMessage::Error {
                            code,
                            message,
                            retryable,
                        })) if during == "handshake" => {
                            return Err(FramerError::Server {
                                code,
                                message,
                                retryable,
                            });
                        }
                        Ok(Some(decoded)) => return Ok(decoded),
                        Ok(None) => {}
                        Err(e) => return Err(FramerError::Protocol(e.to_string())),
                    }
                }
                Some(Some(Ok(WebsocketEvent::Close(_))) | None) => {
                    return Err(FramerError::Closed {
                        during: during.to_owned(),
                    });
                }
                Some(Some(Err(e))) => {
                    return Err(FramerError::Closed {
                        during: format!("{during} ({e})"),
                    });
                }
                None => {
                    waited += wire::PING_INTERVAL_MS;
                    if waited >= timeout_ms {
                        return Err(FramerError::Timeout {
                            during: during.to_owned(),
                        });
                    }
                    self.send(&ClientMessage::Ping)?;
                }
            }
        }
    }

    /// Says goodbye (waiting briefly for the ack when the server asked for it) and closes.
    /// Returns the counters; failures here cannot change what was written.
    pub async fn disconnect(mut self) -> (usize, usize) {
        if self.graceful && self.send(&ClientMessage::ClientDisconnect).is_ok() {
            let deadline = Delay::from(Duration::from_millis(ACK_TIMEOUT_MS));
            let ack = async {
                while let Some(Ok(WebsocketEvent::Message(message))) = self.events.next().await {
                    if let Some(text) = message.text() {
                        if matches!(
                            self.decoder.push(&text),
                            Ok(Some(ServerMessage::DisconnectAck))
                        ) {
                            break;
                        }
                    }
                }
            };
            let _ = select(Box::pin(ack), deadline).await;
        }
        let _ = self.ws.close(Some(1000), Some("sync finished"));
        (self.calls, self.bytes_sent)
    }
}

fn unexpected(message: &ServerMessage, during: &str) -> FramerError {
    match message {
        ServerMessage::Error {
            code,
            message,
            retryable,
        } => FramerError::Server {
            code: code.clone(),
            message: message.clone(),
            retryable: *retryable,
        },
        other => FramerError::Protocol(format!("unexpected {other:?} during {during}")),
    }
}
