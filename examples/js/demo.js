// A customer's visit: hello, sign in, browse, watch a product's stock, buy two units, and
// see the stock push the sale causes. Prints what it does; the last line is a summary as
// JSON, for the test that runs it.
//
//   WARUNG_PASSWORD=... node demo.js [host] [port] [username]
import { randomUUID } from "node:crypto";
import { on } from "node:events";

import { DEFAULT_PORT, WarungClient } from "./client.js";
import { formatMoney } from "./money.js";

const [host = "127.0.0.1", port = String(DEFAULT_PORT), username = "customer"] =
  process.argv.slice(2);
const password = process.env.WARUNG_PASSWORD;
if (!password) throw new Error("set WARUNG_PASSWORD to the account's password");
const QTY = 2;
const PUSH_WAIT_MS = 10_000;

const shop = await WarungClient.connect({ host, port: Number(port), name: "warung-js-demo/1.0" });
const { currency, currency_exponent: exponent, name: shopName } = shop.hello.shop;
const money = (amount) => formatMoney(amount, currency, exponent);
console.log(`hello: ${shop.hello.server}, protocol ${shop.hello.protocol}, shop "${shopName}"`);
shop.on("push", ({ event, seq, data }) =>
  console.log(`push #${seq}: ${event}`, JSON.stringify(data)),
);
shop.on("gap", ({ expected, got }) => console.log(`pushes lost: seq ${got}, expected ${expected}`));

const { user } = await shop.call("auth.login", { username, password });
console.log(`signed in as ${user.username} (${user.role}), since ${user.created_at.toISOString()}`);

const page = await shop.call("catalog.list", { limit: 20 });
const product = page.items.find((p) => p.stock >= QTY);
if (!product) throw new Error(`no product with ${QTY} in stock on the first page`);
console.log(
  `product ${product.id} ${product.sku} "${product.name}": ${money(product.price)}, ${product.stock} in stock`,
);

// The snapshot is the stock now; every later change of it comes as a `stock` push.
const { snapshot } = await shop.call("stock.subscribe", { product_ids: [product.id] });
let stock = snapshot[0];
const saleSeen = watchStock(product.id, stock.version);

await shop.call("cart.clear");
const cart = await shop.call("cart.add", { product_id: product.id, qty: QTY });
console.log(`cart: ${cart.count} units, ${money(cart.total)}`);

// One idempotency key per purchase: after a lost answer, the same call with the same key
// returns the same order instead of buying twice.
const order = await shop.call("order.checkout", {
  idempotency_key: randomUUID(),
  payment: { method: "card", token: "tok_visa" },
});
console.log(`order ${order.id}: ${order.status}, ${money(order.total)}`);

stock = await saleSeen;
console.log(`stock of ${product.sku}: ${stock.stock} (version ${stock.version})`);
const summary = {
  order_id: order.id,
  status: order.status,
  total: order.total,
  product_id: product.id,
  qty: QTY,
  stock_before: snapshot[0].stock,
  stock_after: stock.stock,
  retries: shop.retries,
};
shop.close();
console.log(JSON.stringify(summary));

/** The first `stock` push of the product with a version above `version`. */
async function watchStock(productId, version) {
  const pushes = on(shop, "push", { signal: AbortSignal.timeout(PUSH_WAIT_MS) });
  try {
    for await (const [{ event, data }] of pushes) {
      if (event === "stock" && data.product_id === productId && data.version > version) return data;
    }
  } catch (error) {
    throw new Error(`no stock push for product ${productId} within ${PUSH_WAIT_MS} ms`, {
      cause: error,
    });
  }
}
