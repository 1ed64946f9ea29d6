//! One outbound WebSocket to Framer's Server API, opened from the Durable Object the way the
//! official client does on Workers: a `fetch` of the http(s) URL with `Upgrade: websocket` and
//! the API key, then `Response::websocket()`. Message encoding and decoding is `framer_wire`'s;
//! this file runs the handshake, one call at a time by id, pings while waiting, and the
//! graceful disconnect, and counts calls and bytes sent.

use crate::framer::wire::{self, Call, ClientMessage, Decoder, ServerMessage};
use futures::future::{select, Either};
use futures::StreamExt;
use std::fmt;
use std::time::Duration;
use worker::{Delay, EventStream, Fetch, Headers, Request, RequestInit, WebSocket, WebsocketEvent};

/// How long one call may wait for its answer (pings keep the socket alive meanwhile).
const CALL_TIMEOUT_MS: u64 = 120_000;
/// A disconnect waits this long for `disconnect-ack` before closing anyway.
const ACK_TIMEOUT_MS: u64 = 5_000;

/// Why talking to Framer failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramerError {
    /// The project URL or server URL cannot name a connection.
    BadTarget(String),
    /// The upgrade was answered with an HTTP status instead of a socket.
    Refused { status: u16 },
    /// An `error` frame from the server (bad key, no instance available, ...).
    Server {
        code: String,
        message: String,
        retryable: bool,
    },
    /// The socket closed (or could not be opened) before the answer came.
    Closed { during: String },
    /// No answer in time.
    Timeout { during: String },
    /// A method answered with an error string.
    Method {
        method: &'static str,
        message: String,
    },
    /// A frame could not be decoded.
    Protocol(String),
}

impl FramerError {
    /// The machine-readable code stored on the sync record.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadTarget(_) => "framer_project_invalid",
            Self::Refused { status: 401 | 403 } => "framer_key_invalid",
            Self::Server { code, .. } if is_auth_code(code) => "framer_key_invalid",
            Self::Refused { .. } | Self::Server { .. } => "framer_unavailable",
            Self::Closed { .. } => "framer_connection_lost",
            Self::Timeout { .. } => "framer_timeout",
            Self::Method { .. } => "framer_call_failed",
            Self::Protocol(_) => "framer_protocol_error",
        }
    }

    /// Whether a later attempt may succeed without the user changing anything.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Server {
                code, retryable, ..
            } => !is_auth_code(code) && wire::is_retryable(code, *retryable),
            Self::Refused { status } => *status >= 500,
            Self::Closed { .. } | Self::Timeout { .. } | Self::Protocol(_) => true,
            Self::BadTarget(_) | Self::Method { .. } => false,
        }
    }

    /// What the user reads on the sync record.
    pub fn user_message(&self) -> String {
        match self {
            Self::BadTarget(detail) => format!("the Framer project URL cannot be used ({detail}); paste the project's URL from Framer"),
            _ if self.code() == "framer_key_invalid" => format!(
                "Framer refused the API key ({}); create a new key in the Framer project's settings and save it in the project",
                self.detail()
            ),
            Self::Method { method, message } => format!("Framer refused {method}: {message}"),
            _ if self.retryable() => format!("Framer is unavailable right now ({}); the sync will retry automatically", self.detail()),
            _ => format!("Framer failed: {}", self.detail()),
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::BadTarget(detail) | Self::Protocol(detail) => detail.clone(),
            Self::Refused { status } => format!("HTTP {status} on connect"),
            Self::Server { code, message, .. } => format!("{code}: {message}"),
            Self::Closed { during } => format!("connection closed during {during}"),
            Self::Timeout { during } => format!("no answer during {during}"),
            Self::Method { method, message } => format!("{method}: {message}"),
        }
    }
}

impl fmt::Display for FramerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.detail())
    }
}

impl std::error::Error for FramerError {}

fn is_auth_code(code: &str) -> bool {
    matches!(
        code,
        "UNAUTHORIZED" | "FORBIDDEN" | "INVALID_API_KEY" | "UNAUTHENTICATED"
    )
}

/// Opens the WebSocket (not yet handshaken).
pub async fn open(
    server_url: &str,
    project: &str,
    api_key: &str,
) -> Result<WebSocket, FramerError> {
    let url = wire::connect_url(server_url, project)
        .map_err(|e| FramerError::BadTarget(e.to_string()))?;
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
    let request = Request::new_with_init(&wire::upgrade_fetch_url(&url), &init).map_err(closed)?;
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
