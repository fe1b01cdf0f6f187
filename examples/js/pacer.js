// Pacing a pipelining client to the limits `hello` reports (PROTOCOL.md section 7): at most
// `max_in_flight` requests unanswered, and a token bucket that never runs ahead of the
// server's, so the server never has to answer rate_limited.
import { setTimeout as sleep } from "node:timers/promises";

/** Refill a little slower than the server: its clock and ours do not tick quite alike. */
const MARGIN = 0.95;

export class Pacer {
  constructor({ rate_per_s, burst, max_in_flight }) {
    this.rate = rate_per_s * MARGIN; // tokens per second
    this.burst = burst;
    this.tokens = burst; // the server's bucket starts full too
    this.refillFrom = null; // ms; null: full, or emptied and no answer since
    this.free = max_in_flight;
    this.queue = []; // callers waiting for a free slot, first come first served
  }

  /** Wait until a request may be sent: a free slot, then a token. */
  async acquire() {
    if (this.free > 0) this.free -= 1;
    else await new Promise((resolve) => this.queue.push(resolve));
    while (!this.#take()) {
      await sleep(((1 - this.tokens) / this.rate) * 1000);
    }
  }

  /** A request was answered: its slot goes to the next waiting caller. */
  release() {
    // The server took its token for every request it has answered when the request
    // arrived, so its bucket refills at least since then: count our refill from here.
    this.refillFrom ??= performance.now();
    const next = this.queue.shift();
    if (next) next();
    else this.free += 1;
  }

  /** The server said rate_limited: our bucket ran ahead of its own, so empty ours. */
  async refused(retryAfterMs) {
    this.tokens = 0;
    this.refillFrom = performance.now();
    await sleep(retryAfterMs);
  }

  #take() {
    const now = performance.now();
    if (this.refillFrom !== null) {
      this.tokens = Math.min(
        this.burst,
        this.tokens + ((now - this.refillFrom) / 1000) * this.rate,
      );
      this.refillFrom = now;
    }
    if (this.tokens < 1) return false;
    if (this.tokens >= this.burst) this.refillFrom = null; // leaving full: wait for an answer
    this.tokens -= 1;
    return true;
  }
}
