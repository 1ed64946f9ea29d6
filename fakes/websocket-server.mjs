// A small RFC 6455 WebSocket server side for test fakes, built on node:http's
// 'upgrade' event. Generic: it knows nothing about the protocol spoken on top.
//
//   server.on("upgrade", (req, socket, head) => {
//     const problem = upgradeProblem(req);
//     if (problem) return rejectUpgrade(socket, problem.status, problem.message, problem.headers);
//     const ws = acceptUpgrade(req, socket, head);
//     ws.on("message", (data, isBinary) => ...);
//   });
//
// Supported: text and binary messages, fragmentation (with control frames
// interleaved), 7/16/64-bit payload lengths, client masking (required), ping ->
// pong, the closing handshake, UTF-8 validation. No extensions are negotiated
// (permessage-deflate offers are ignored, which RFC 6455 allows).

import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";

const HANDSHAKE_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Frame opcodes (RFC 6455 section 5.2). */
export const Opcode = Object.freeze({
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
});

/** Close status codes used by this module (RFC 6455 section 7.4.1). */
export const CloseCode = Object.freeze({
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  noStatus: 1005,
  abnormal: 1006,
  invalidPayload: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
});

/** The connection's lifecycle, numbered like the browser WebSocket API. */
export const ReadyState = Object.freeze({ open: 1, closing: 2, closed: 3 });

const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const DEFAULT_CLOSE_TIMEOUT_MS = 2000;
const MAX_CONTROL_PAYLOAD = 125;

/** The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key. */
export function acceptKey(key) {
  return createHash("sha1")
    .update(key + HANDSHAKE_GUID)
    .digest("base64");
}

/**
 * Checks an upgrade request against RFC 6455 section 4.2.1.
 * Returns null when it is acceptable, otherwise {status, message, headers}.
 */
export function upgradeProblem(req) {
  if (req.method !== "GET") return { status: 405, message: "WebSocket upgrade needs GET", headers: {} };
  if (!headerHasToken(req.headers.upgrade, "websocket")) {
    return { status: 400, message: "Missing 'Upgrade: websocket'", headers: {} };
  }
  if (!headerHasToken(req.headers.connection, "upgrade")) {
    return { status: 400, message: "Missing 'Connection: Upgrade'", headers: {} };
  }
  if (req.headers["sec-websocket-version"] !== "13") {
    return { status: 426, message: "Unsupported WebSocket version", headers: { "Sec-WebSocket-Version": "13" } };
  }
  const key = req.headers["sec-websocket-key"] ?? "";
  if (Buffer.from(key, "base64").length !== 16) {
    return { status: 400, message: "Invalid Sec-WebSocket-Key", headers: {} };
  }
  return null;
}

function headerHasToken(value, token) {
  if (typeof value !== "string") return false;
  return value
    .split(",")
    .map((part) => part.trim().toLowerCase())
    .includes(token);
}

/** The subprotocols a client offered in Sec-WebSocket-Protocol, in order. */
export function offeredProtocols(req) {
  const value = req.headers["sec-websocket-protocol"];
  if (typeof value !== "string") return [];
  return value
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
export function rejectUpgrade(socket, status, message, headers = {}) {
  const body = Buffer.from(message, "utf8");
  const lines = [
    `HTTP/1.1 ${status} ${httpReason(status)}`,
    "Connection: close",
    "Content-Type: text/plain; charset=utf-8",
    `Content-Length: ${body.length}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.end(Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), body]));
}

function httpReason(status) {
  const reasons = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    426: "Upgrade Required",
  };
  return reasons[status] ?? "Error";
}

/**
 * Completes the opening handshake and returns the open connection.
 * opts.protocol: the subprotocol to confirm (must be one the client offered).
 * opts.maxMessageBytes: larger messages close the connection with 1009.
 * opts.closeTimeoutMs: how long to wait for the client's close frame.
 */
export function acceptUpgrade(req, socket, head, opts = {}) {
  const lines = [
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${acceptKey(req.headers["sec-websocket-key"])}`,
  ];
  if (opts.protocol) lines.push(`Sec-WebSocket-Protocol: ${opts.protocol}`);
  socket.setNoDelay(true);
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  const connection = new WebSocketConnection(socket, opts);
  // Bytes the client sent right behind its request belong to the first frame.
  if (head && head.length > 0) queueMicrotask(() => connection.receive(head));
  return connection;
}

/**
 * Encodes one frame. The server sends unmasked frames; pass opts.mask (4 bytes)
 * to encode a client frame, which tests use to talk to this server over a raw
 * socket.
 */
export function encodeFrame(opcode, payload = Buffer.alloc(0), opts = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, "utf8");
  const fin = opts.fin ?? true;
  const header = frameHeader(fin, opcode, data.length, Boolean(opts.mask));
  if (!opts.mask) return Buffer.concat([header, data]);
  return Buffer.concat([header, opts.mask, applyMask(data, opts.mask)]);
}

function frameHeader(fin, opcode, length, masked) {
  const first = (fin ? 0x80 : 0) | opcode;
  const maskBit = masked ? 0x80 : 0;
  if (length < 126) return Buffer.from([first, maskBit | length]);
  if (length < 0x10000) {
    const header = Buffer.alloc(4);
    header[0] = first;
    header[1] = maskBit | 126;
    header.writeUInt16BE(length, 2);
    return header;
  }
  const header = Buffer.alloc(10);
  header[0] = first;
  header[1] = maskBit | 127;
  header.writeBigUInt64BE(BigInt(length), 2);
  return header;
}

function applyMask(data, mask) {
  const out = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i += 1) out[i] = data[i] ^ mask[i & 3];
  return out;
}

/** Thrown by the parser when the peer breaks the framing rules. */
export class FrameError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "FrameError";
    this.code = code;
  }
}

/**
 * Incremental frame decoder: push() raw bytes, get back every complete frame
 * ({fin, opcode, masked, payload} with the payload already unmasked).
 */
export class FrameParser {
  #buffer = Buffer.alloc(0);
  #maxPayload;

  constructor({ maxPayloadBytes = DEFAULT_MAX_MESSAGE_BYTES } = {}) {
    this.#maxPayload = maxPayloadBytes;
  }

  push(chunk) {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const frames = [];
    for (let frame = this.#next(); frame; frame = this.#next()) frames.push(frame);
    return frames;
  }

  #next() {
    const header = this.#readHeader();
    if (!header) return null;
    const total = header.offset + (header.masked ? 4 : 0) + header.length;
    if (this.#buffer.length < total) return null;
    const maskStart = header.offset;
    const dataStart = maskStart + (header.masked ? 4 : 0);
    let payload = this.#buffer.subarray(dataStart, total);
    if (header.masked) payload = applyMask(payload, this.#buffer.subarray(maskStart, dataStart));
    else payload = Buffer.from(payload);
    this.#buffer = this.#buffer.subarray(total);
    return { fin: header.fin, rsv: header.rsv, opcode: header.opcode, masked: header.masked, payload };
  }

  #readHeader() {
    const buf = this.#buffer;
    if (buf.length < 2) return null;
    const fin = (buf[0] & 0x80) !== 0;
    const rsv = (buf[0] & 0x70) >> 4;
    const opcode = buf[0] & 0x0f;
    const masked = (buf[1] & 0x80) !== 0;
    const short = buf[1] & 0x7f;
    if (short < 126) return { fin, rsv, opcode, masked, length: short, offset: 2 };
    if (short === 126) {
      if (buf.length < 4) return null;
      return { fin, rsv, opcode, masked, length: buf.readUInt16BE(2), offset: 4 };
    }
    if (buf.length < 10) return null;
    const length = buf.readBigUInt64BE(2);
    if (length > BigInt(this.#maxPayload)) {
      throw new FrameError(CloseCode.messageTooBig, `Frame of ${length} bytes is too big`);
    }
    return { fin, rsv, opcode, masked, length: Number(length), offset: 10 };
  }
}

/**
 * One accepted connection (server side).
 * Events: 'message' (data: string | Buffer, isBinary), 'ping' (Buffer),
 * 'pong' (Buffer), 'close' ({code, reason}), 'error' (only if listened to).
 */
export class WebSocketConnection extends EventEmitter {
  readyState = ReadyState.open;
  #socket;
  #parser;
  #maxMessageBytes;
  #closeTimeoutMs;
  #fragments = null;
  #closeSent = false;
  #closeReceived = null;
  #closeTimer = null;
  #utf8 = new TextDecoder("utf-8", { fatal: true });

  constructor(socket, opts = {}) {
    super();
    this.#socket = socket;
    this.#maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#closeTimeoutMs = opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.#parser = new FrameParser({ maxPayloadBytes: this.#maxMessageBytes });
    socket.on("data", (chunk) => this.receive(chunk));
    socket.on("error", (error) => this.#reportError(error));
    socket.on("close", () => this.#finish());
  }

  /** Feeds raw bytes from the socket (public so the upgrade 'head' can be replayed). */
  receive(chunk) {
    if (this.readyState === ReadyState.closed) return;
    try {
      for (const frame of this.#parser.push(chunk)) this.#handleFrame(frame);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      this.#fail(error.code, error.message);
    }
  }

  /** Sends a text message. */
  send(text) {
    this.#write(Opcode.text, Buffer.from(text, "utf8"));
  }

  /** Sends a binary message. */
  sendBinary(bytes) {
    this.#write(Opcode.binary, bytes);
  }

  /** Sends a ping control frame. */
  ping(payload = Buffer.alloc(0)) {
    this.#write(Opcode.ping, payload);
  }

  /** Starts the closing handshake; the socket ends once the client answers. */
  close(code = CloseCode.normal, reason = "") {
    if (this.readyState !== ReadyState.open) return;
    this.#sendClose(code, reason);
    this.readyState = ReadyState.closing;
    this.#armCloseTimer();
  }

  /** Drops the TCP connection without a closing handshake (the peer sees 1006). */
  terminate() {
    this.#socket.destroy();
  }

  #write(opcode, payload) {
    if (this.readyState !== ReadyState.open) {
      throw new Error(`WebSocket is not open (readyState ${this.readyState})`);
    }
    this.#socket.write(encodeFrame(opcode, payload));
  }

  #handleFrame(frame) {
    // Nothing after the client's close frame (or after a protocol failure) counts.
    if (this.#closeReceived) return;
    if (frame.rsv !== 0) throw new FrameError(CloseCode.protocolError, "Reserved bits set without an extension");
    if (!frame.masked) throw new FrameError(CloseCode.protocolError, "Client frames must be masked");
    if (frame.opcode >= Opcode.close) this.#handleControl(frame);
    else this.#handleData(frame);
  }

  #handleControl(frame) {
    if (!frame.fin || frame.payload.length > MAX_CONTROL_PAYLOAD) {
      throw new FrameError(CloseCode.protocolError, "Invalid control frame");
    }
    if (frame.opcode === Opcode.close) this.#handleClose(frame.payload);
    else if (frame.opcode === Opcode.ping) this.#answerPing(frame.payload);
    else if (frame.opcode === Opcode.pong) this.emit("pong", frame.payload);
    else throw new FrameError(CloseCode.protocolError, `Unknown control opcode ${frame.opcode}`);
  }

  #answerPing(payload) {
    if (this.readyState === ReadyState.open) this.#socket.write(encodeFrame(Opcode.pong, payload));
    this.emit("ping", payload);
  }

  #handleClose(payload) {
    if (payload.length === 1) throw new FrameError(CloseCode.protocolError, "Close frame with a 1-byte body");
    const code = payload.length >= 2 ? payload.readUInt16BE(0) : CloseCode.noStatus;
    const reason = this.#decodeText(payload.subarray(2));
    this.#closeReceived = { code, reason };
    // Echo the status code (RFC 6455 section 5.5.1), then let the client see EOF.
    if (!this.#closeSent) this.#sendClose(code === CloseCode.noStatus ? CloseCode.normal : code, "");
    this.readyState = ReadyState.closing;
    this.#socket.end();
    this.#armCloseTimer();
  }

  #handleData(frame) {
    if (frame.opcode === Opcode.continuation) {
      if (!this.#fragments) throw new FrameError(CloseCode.protocolError, "Continuation without a message");
    } else if (frame.opcode === Opcode.text || frame.opcode === Opcode.binary) {
      if (this.#fragments) throw new FrameError(CloseCode.protocolError, "New message inside a fragmented one");
      this.#fragments = { opcode: frame.opcode, parts: [], size: 0 };
    } else {
      throw new FrameError(CloseCode.protocolError, `Unknown data opcode ${frame.opcode}`);
    }
    this.#appendFragment(frame);
  }

  #appendFragment(frame) {
    const message = this.#fragments;
    message.parts.push(frame.payload);
    message.size += frame.payload.length;
    if (message.size > this.#maxMessageBytes) throw new FrameError(CloseCode.messageTooBig, "Message too big");
    if (!frame.fin) return;
    this.#fragments = null;
    const data = Buffer.concat(message.parts);
    if (message.opcode === Opcode.binary) this.emit("message", data, true);
    else this.emit("message", this.#decodeText(data), false);
  }

  #decodeText(bytes) {
    try {
      return this.#utf8.decode(bytes);
    } catch {
      throw new FrameError(CloseCode.invalidPayload, "Text is not valid UTF-8");
    }
  }

  #sendClose(code, reason) {
    const reasonBytes = Buffer.from(reason, "utf8").subarray(0, MAX_CONTROL_PAYLOAD - 2);
    const payload = Buffer.alloc(2 + reasonBytes.length);
    payload.writeUInt16BE(code, 0);
    reasonBytes.copy(payload, 2);
    this.#closeSent = true;
    if (!this.#socket.destroyed) this.#socket.write(encodeFrame(Opcode.close, payload));
  }

  #fail(code, reason) {
    if (this.readyState === ReadyState.open) this.#sendClose(code, reason);
    this.readyState = ReadyState.closing;
    this.#closeReceived ??= { code, reason };
    this.#socket.end();
    this.#armCloseTimer();
  }

  // A peer that never answers the closing handshake must not keep the socket alive.
  #armCloseTimer() {
    clearTimeout(this.#closeTimer);
    this.#closeTimer = setTimeout(() => this.#socket.destroy(), this.#closeTimeoutMs);
    this.#closeTimer.unref?.();
  }

  #reportError(error) {
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }

  #finish() {
    if (this.readyState === ReadyState.closed) return;
    clearTimeout(this.#closeTimer);
    this.readyState = ReadyState.closed;
    this.emit("close", this.#closeReceived ?? { code: CloseCode.abnormal, reason: "" });
  }
}
