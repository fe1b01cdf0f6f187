// Checks this client's codec and framing against protocol/testvectors.json (PROTOCOL.md
// section 17) and the frames of the worked session (section 15, whose timestamps have
// microseconds). Prints one line per frame; exits 1 if any fails.
//
//   node vectors.js [path/to/testvectors.json] [path/to/PROTOCOL.md]
import { readFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";

import { Timestamp, isPlainMap } from "./codec.js";
import { FrameError, FrameReader, frame } from "./frames.js";

const [vectorsPath, specPath] = [
  process.argv[2] ?? new URL("../../protocol/testvectors.json", import.meta.url),
  process.argv[3] ?? new URL("../../PROTOCOL.md", import.meta.url),
];
const { max_frame: maxFrame, vectors } = JSON.parse(readFileSync(vectorsPath, "utf8"));
const MAX_ID = 2 ** 53;

/** Section 15's frames as vectors: each ```hex block (comments after #) and the ```json
 * block after it. */
function sessionFrames(markdown) {
  const pairs = markdown.matchAll(/^```hex\n(.*?)^```\n\s*^```json\n(.*?)^```$/gms);
  return Array.from(pairs, ([, hexBlock, jsonBlock], i) => ({
    kind: "session",
    name: `section 15 frame ${i + 1}`,
    hex: hexBlock.replace(/#.*$/gm, "").replace(/\s+/g, ""),
    decoded: JSON.parse(jsonBlock),
  }));
}

/** The JSON form of section 17: {"$timestamp": ISO}, {"$bin": hex}, the rest as JSON. */
function toJSONForm(value) {
  if (value instanceof Timestamp) return { $timestamp: value.toISOString() };
  if (value instanceof Uint8Array) return { $bin: Buffer.from(value).toString("hex") };
  if (Array.isArray(value)) return value.map(toJSONForm);
  if (isPlainMap(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJSONForm(v)]));
  }
  return value;
}

function fromJSONForm(value) {
  if (Array.isArray(value)) return value.map(fromJSONForm);
  if (isPlainMap(value)) {
    if ("$timestamp" in value) return Timestamp.fromISO(value.$timestamp);
    if ("$bin" in value) return Uint8Array.from(Buffer.from(value.$bin, "hex"));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromJSONForm(v)]));
  }
  return value;
}

/** Everything the reader makes of `bytes`, fed one byte at a time (a frame may arrive in
 * any number of pieces): {messages} or {refused: reason}. */
function read(bytes) {
  const reader = new FrameReader(maxFrame);
  const messages = [];
  try {
    for (const byte of bytes) messages.push(...reader.feed(Buffer.of(byte)));
  } catch (error) {
    if (error instanceof FrameError) return { refused: error.reason };
    throw error;
  }
  return { messages };
}

/** The id an error about this body carries (section 5): the request's, if it has a valid one. */
function errorId(body) {
  const id = body?.id;
  return Number.isInteger(id) && id >= 1 && id <= MAX_ID ? id : null;
}

function check(vector) {
  const bytes = Buffer.from(vector.hex, "hex");
  const got = read(bytes);
  switch (vector.kind) {
    case "incomplete":
      return got.messages?.length === 0 ? null : `expected nothing yet, got ${JSON.stringify(got)}`;
    case "invalid": {
      // The server's checks: a refused frame or a bad envelope. What the client can tell is
      // which id the error answers: nil when no valid id could be read.
      const id = got.refused ? null : errorId(got.messages[0]);
      if (vector.error.code === "too_large" && got.refused !== "too_large")
        return "not refused as too large";
      return id === vector.error.id
        ? null
        : `the error would carry id ${id}, not ${vector.error.id}`;
    }
    default: {
      if (got.refused) return `refused: ${got.refused}`;
      if (got.messages.length !== 1) return `${got.messages.length} messages, not 1`;
      const decoded = toJSONForm(got.messages[0]);
      if (!isDeepStrictEqual(decoded, vector.decoded))
        return `decoded to ${JSON.stringify(decoded)}`;
      const encoded = frame(fromJSONForm(vector.decoded)).toString("hex");
      return encoded === vector.hex ? null : `encodes to ${encoded}`;
    }
  }
}

const frames = [...vectors, ...sessionFrames(readFileSync(specPath, "utf8"))];
let failed = 0;
for (const vector of frames) {
  const problem = check(vector);
  if (problem) failed += 1;
  console.log(
    `${problem ? "FAIL" : "ok  "} ${vector.kind} ${vector.name}${problem ? ": " + problem : ""}`,
  );
}
console.log(`${frames.length - failed} of ${frames.length} frames pass`);
process.exitCode = failed ? 1 : 0;
