// Pipelining within the limits: sends many pings at once and lets the Pacer hold each back
// until `hello`'s limits allow it (PROTOCOL.md section 7). Prints how many were answered,
// how many were refused as rate_limited and sent again, and how long it took, as JSON.
//
//   node pings.js [host] [port] [count]
import { DEFAULT_PORT, WarungClient } from "./client.js";

const [host = "127.0.0.1", port = String(DEFAULT_PORT), count = "1000"] = process.argv.slice(2);

const shop = await WarungClient.connect({ host, port: Number(port), name: "warung-js-pings/1.0" });
const began = performance.now();
const answers = await Promise.all(Array.from({ length: Number(count) }, () => shop.call("ping")));
const seconds = (performance.now() - began) / 1000;
shop.close();
console.log(
  JSON.stringify({
    answered: answers.length,
    retries: shop.retries,
    seconds: Number(seconds.toFixed(3)),
    limits: shop.hello.limits,
  }),
);
