// Frames (PROTOCOL.md section 3): a 4-byte big-endian length, then one msgpack map.
import { decode, encode, isPlainMap } from "./codec.js";

export const DEFAULT_MAX_FRAME = 1048576;

/** A frame this side will not accept: `reason` is "too_large", "msgpack" or "not_a_map". */
export class FrameError extends Error {
  constructor(reason, message) {
    super(message);
    this.reason = reason;
  }
}

/** One message as the bytes of one frame. */
export function frame(message) {
  const body = encode(message);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, 4);
  return out;
}

/** Takes the byte stream in pieces of any size; gives back whole messages. */
export class FrameReader {
  constructor(maxFrame = DEFAULT_MAX_FRAME) {
    this.maxFrame = maxFrame;
    this.buffer = Buffer.alloc(0);
  }

  /** The messages `chunk` completes, in order. Throws FrameError for a frame it refuses;
   * the stream is then not to be trusted and the connection should be closed. */
  feed(chunk) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const messages = [];
    while (this.buffer.length >= 4) {
      const length = this.buffer.readUInt32BE(0);
      if (length > this.maxFrame) {
        throw new FrameError("too_large", `a frame of ${length} bytes, over ${this.maxFrame}`);
      }
      if (this.buffer.length < 4 + length) break;
      messages.push(decodeBody(this.buffer.subarray(4, 4 + length)));
      this.buffer = this.buffer.subarray(4 + length);
    }
    return messages;
  }
}

function decodeBody(body) {
  let message;
  try {
    message = decode(body);
  } catch (error) {
    throw new FrameError("msgpack", `a body that is not one msgpack object: ${error.message}`);
  }
  if (!isPlainMap(message)) {
    throw new FrameError("not_a_map", "a body that is not a map");
  }
  return message;
}
