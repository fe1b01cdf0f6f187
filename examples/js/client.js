// A warung connection: hello, requests matched to replies by id, pushes, heartbeat.
import { EventEmitter } from "node:events";
import net from "node:net";

import { FrameReader, frame } from "./frames.js";
import { Pacer } from "./pacer.js";

export const DEFAULT_PORT = 7411;

/** A failure answer of the server: `code`, `message` (for people) and `details`. */
export class WarungError extends Error {
  constructor(code, message, details = {}) {
    super(`${code}: ${message}`);
    this.code = code;
    this.details = details;
  }
}

/**
 * Emits "push" ({event, seq, data}), "gap" (pushes were lost: subscribe again),
 * "stray" (an error answering no request, id nil) and "close" (how the link ended:
 * "FIN", "RST" or the local error).
 */
export class WarungClient extends EventEmitter {
  #socket;
  #reader = new FrameReader();
  #waiting = new Map(); // request id -> {resolve, reject} of the caller waiting for it
  #nextId = 1;
  #lastSeq = 0;
  #pacer = null;
  #heartbeat = null;

  constructor(socket) {
    super();
    this.#socket = socket;
    this.retries = 0; // requests sent again after rate_limited
    socket.on("data", (chunk) => this.#received(chunk));
    socket.on("error", (error) => {
      this.closedBy = error.code === "ECONNRESET" ? "RST" : error.message;
    });
    socket.on("end", () => {
      this.closedBy ??= "FIN"; // Node then closes our side too (allowHalfOpen is off)
    });
    socket.on("close", () => this.#closed());
  }

  /** Connects and says hello; the answer's `limits`, `heartbeat_s` and `shop` are kept. */
  static async connect({ host = "127.0.0.1", port = DEFAULT_PORT, name = "warung-js/1.0" } = {}) {
    const socket = net.connect({ host, port, noDelay: true });
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const client = new WarungClient(socket);
    const reply = await client.#request("hello", {
      protocol: 1,
      client: name,
      max_frame: client.#reader.maxFrame, // the largest body we accept
    });
    if (!reply.ok)
      throw new WarungError(reply.error.code, reply.error.message, reply.error.details);
    client.hello = reply.result;
    client.#pacer = new Pacer(reply.result.limits);
    client.#startHeartbeat(reply.result.heartbeat_s);
    return client;
  }

  /** Sends a request and waits for its result; a failure answer throws WarungError. */
  async call(op, args = {}) {
    for (;;) {
      await this.#pacer.acquire();
      const reply = await this.#request(op, args).finally(() => this.#pacer.release());
      if (reply.ok) return reply.result;
      const { code, message, details } = reply.error;
      if (code !== "rate_limited" || details.reason !== "rate") {
        throw new WarungError(code, message, details);
      }
      this.retries += 1; // rare: the pacer keeps within the rate (PROTOCOL.md section 7)
      await this.#pacer.refused(details.retry_after_ms);
    }
  }

  close() {
    clearTimeout(this.#heartbeat);
    this.#socket.end();
  }

  #request(op, args) {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      if (this.#socket.destroyed) return reject(new Error("connection closed"));
      this.#waiting.set(id, { resolve, reject });
      this.#socket.write(frame({ id, op, args }));
      this.#heartbeat?.refresh(); // anything sent counts as activity
    });
  }

  #received(chunk) {
    let messages;
    try {
      messages = this.#reader.feed(chunk);
    } catch (error) {
      this.#socket.destroy(error); // a bad frame: the stream is out of step
      return;
    }
    for (const message of messages) {
      if ("event" in message) this.#push(message);
      else if (this.#waiting.has(message.id)) {
        this.#waiting.get(message.id).resolve(message);
        this.#waiting.delete(message.id);
      } else this.emit("stray", message);
    }
  }

  #push({ event, seq, data }) {
    if (seq !== this.#lastSeq + 1) this.emit("gap", { expected: this.#lastSeq + 1, got: seq });
    this.#lastSeq = seq;
    this.emit("push", { event, seq, data });
  }

  /** Pings after heartbeat_s without sending; an unanswered ping means the link is dead. */
  #startHeartbeat(seconds) {
    this.#heartbeat = setTimeout(() => {
      const dead = setTimeout(
        () => this.#socket.destroy(new Error("ping unanswered")),
        seconds * 1000,
      );
      dead.unref();
      this.call("ping")
        .catch(() => {})
        .finally(() => clearTimeout(dead));
    }, seconds * 1000);
    this.#heartbeat.unref();
  }

  #closed() {
    clearTimeout(this.#heartbeat);
    for (const { reject } of this.#waiting.values()) reject(new Error("connection closed"));
    this.#waiting.clear();
    this.emit("close", this.closedBy ?? "FIN");
  }
}
