// The msgpack rules of PROTOCOL.md section 4, set up for @msgpack/msgpack 3.x.
//
// Left at its defaults, this library breaks three of them (PROTOCOL.md section 4.1):
// it writes 2^53 as a float, reads a uint64 above 2^53 as a rounded Number, and turns a
// timestamp into a Date, which keeps milliseconds and drops the microseconds. Nor does it
// refuse map keys that are not strings, or a map that repeats a key.
import {
  Decoder,
  DecodeError,
  EXT_TIMESTAMP,
  Encoder,
  ExtensionCodec,
  decodeTimestampToTimeSpec,
  encodeTimeSpecToTimestamp,
} from "@msgpack/msgpack";

/** A msgpack timestamp, exact to the nanosecond, always UTC. */
export class Timestamp {
  constructor(sec, nsec = 0) {
    this.sec = sec;
    this.nsec = nsec;
  }

  /** Parses ISO 8601 with an offset, e.g. "2026-11-20T09:12:44.318502+00:00". */
  static fromISO(text) {
    const m = /^(.{19})(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(text);
    if (!m) throw new TypeError(`not an ISO 8601 time with an offset: ${text}`);
    const sec = Date.parse(m[1] + m[3]) / 1000;
    return new Timestamp(sec, Number((m[2] ?? "").padEnd(9, "0")));
  }

  /** The form of the test vectors: "+00:00", and 6 fraction digits unless they are all 0. */
  toISOString() {
    const whole = new Date(this.sec * 1000).toISOString().slice(0, 19);
    const digits = String(this.nsec).padStart(9, "0");
    const fraction = this.nsec === 0 ? "" : "." + (this.nsec % 1000 ? digits : digits.slice(0, 6));
    return `${whole}${fraction}+00:00`;
  }

  toJSON() {
    return this.toISOString();
  }

  toDate() {
    return new Date(this.sec * 1000 + Math.floor(this.nsec / 1e6));
  }
}

const extensionCodec = new ExtensionCodec();
extensionCodec.register({
  type: EXT_TIMESTAMP, // replaces the library's own Date codec for type -1
  encode: (value) => (value instanceof Timestamp ? encodeTimeSpecToTimestamp(value) : null),
  decode: (data) => {
    const { sec, nsec } = decodeTimestampToTimeSpec(data);
    return new Timestamp(sec, nsec);
  },
});

let keysRead = 0; // map keys the decoder has read in the current decode(), repeats included

const stringKeysOnly = (key) => {
  if (typeof key !== "string") throw new DecodeError("map keys must be strings");
  keysRead += 1;
  return key;
};

// useBigInt64: the encoder writes a BigInt as uint64/int64, and the decoder reads every
// uint64/int64 as a BigInt, so nothing is rounded on the way in.
const encoder = new Encoder({ extensionCodec, useBigInt64: true });
const decoder = new Decoder({ extensionCodec, useBigInt64: true, mapKeyConverter: stringKeysOnly });

const TWO_32 = 2 ** 32;
const TWO_53 = 2 ** 53;

/** Integers outside 32 bits become BigInt: with useBigInt64 the encoder writes a Number
 * from 2^32 up as a float, and without it a Number above 2^53 - 1 (so 2^53 itself). */
function wideIntsAsBigInt(value) {
  if (Number.isInteger(value)) {
    return value >= TWO_32 || value < -(2 ** 31) ? BigInt(value) : value;
  }
  if (Array.isArray(value)) return value.map(wideIntsAsBigInt);
  if (isPlainMap(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, wideIntsAsBigInt(v)]));
  }
  return value;
}

/** BigInts that a Number holds exactly (up to 2^53) become Numbers again; larger stay BigInt. */
function exactIntsAsNumber(value) {
  if (typeof value === "bigint") {
    return value >= -TWO_53 && value <= TWO_53 ? Number(value) : value;
  }
  if (Array.isArray(value)) return value.map(exactIntsAsNumber);
  if (isPlainMap(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, exactIntsAsNumber(v)]));
  }
  return value;
}

/** A msgpack map as decoded: a plain object (not an array, bytes or a Timestamp). */
export function isPlainMap(value) {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** One value as msgpack bytes. Text is a JS string, bytes a Uint8Array, nil is null. */
export function encode(value) {
  return encoder.encode(wideIntsAsBigInt(value));
}

/** Exactly one msgpack object from `bytes` (trailing bytes are an error). */
export function decode(bytes) {
  keysRead = 0;
  const value = decoder.decode(bytes);
  // A repeated key leaves fewer keys in the maps than were read (the last value wins).
  if (countKeys(value) !== keysRead) throw new DecodeError("a map repeats a key");
  return exactIntsAsNumber(value);
}

function countKeys(value) {
  if (Array.isArray(value)) return value.reduce((n, item) => n + countKeys(item), 0);
  if (!isPlainMap(value)) return 0;
  return Object.values(value).reduce((n, item) => n + countKeys(item), Object.keys(value).length);
}
