// A WatchCases stream for the Node.js client tests: its messages as they arrive
// (each with `receivedAt`), how it ended (`ended`, from `describe(error)`, or OK)
// and when (`endedAt`), and a wait for a condition that ends with the stream.
"use strict";

class Watch {
  constructor(client, request, describe) {
    this.messages = [];
    this.ended = null;
    this.endedAt = null;
    this.wakers = [];
    this.call = client.WatchCases(request);
    this.call.on("data", (message) => {
      this.messages.push({ ...message, receivedAt: Date.now() });
      this.wake();
    });
    this.call.on("error", (error) => {
      this.ended = describe(error);
      this.endedAt = Date.now();
      this.wake();
    });
    this.call.on("end", () => {
      if (!this.ended) {
        this.ended = { code: 0, name: "OK" };
        this.endedAt = Date.now();
      }
      this.wake();
    });
  }

  wake() {
    for (const resolve of this.wakers.splice(0)) resolve();
  }

  // Resolves once `done()` holds, the stream ended, or `ms` passed.
  async until(done, ms) {
    const deadline = Date.now() + ms;
    while (!done() && !this.ended && Date.now() < deadline) {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.wakers.push(() => {
          clearTimeout(timer); // a pending timer would keep the process alive
          resolve();
        });
      });
    }
  }

  events() {
    return this.messages.filter((m) => m.event);
  }

  lastCursor() {
    return this.messages[this.messages.length - 1].cursor;
  }
}

module.exports = { Watch };
