// The agent-to-browser half of a proxied WebSocket is piped as bytes, never parsed into
// messages. To tell a browser "your agent is gone" when that connection dies, the router must
// write a close frame of its own, and may only do so between two of the agent's frames. This
// follows the frame boundaries (header lengths only; payloads are skipped, not copied) and
// notices a close frame from the agent, after which the agent has said goodbye itself.
const OP_CLOSE = 0x8;

export class FrameBoundaries {
  private header: number[] = [];
  private remaining = 0;
  /** The agent sent a close frame (its own code stands). */
  closed = false;

  /** At a frame boundary: a frame of ours written now does not cut one of the agent's. */
  get atBoundary(): boolean {
    return this.remaining === 0 && this.header.length === 0;
  }

  feed(chunk: Buffer) {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - i);
        this.remaining -= take;
        i += take;
        continue;
      }
      this.header.push(chunk[i]!);
      i += 1;
      const need = headerLength(this.header);
      if (need === null || this.header.length < need) continue;
      const h = this.header;
      if ((h[0]! & 0x0f) === OP_CLOSE) this.closed = true;
      this.remaining = payloadLength(h);
      this.header = [];
    }
  }
}

/** The header's full length once its first two bytes are known (null before). */
function headerLength(h: number[]): number | null {
  if (h.length < 2) return null;
  const len7 = h[1]! & 0x7f;
  const masked = (h[1]! & 0x80) !== 0;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
}

function payloadLength(h: number[]): number {
  const len7 = h[1]! & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return (h[2]! << 8) | h[3]!;
  let n = 0;
  for (let k = 2; k < 10; k++) n = n * 256 + h[k]!;
  return n;
}

/** A server's (unmasked) close frame with `code` and `reason` (cut to fit a control frame). */
export function closeFrame(code: number, reason: string): Buffer {
  let text = Buffer.from(reason, 'utf8');
  if (text.length > 123) text = text.subarray(0, 123);
  const frame = Buffer.alloc(4 + text.length);
  frame[0] = 0x80 | OP_CLOSE;
  frame[1] = 2 + text.length;
  frame.writeUInt16BE(code, 2);
  text.copy(frame, 4);
  return frame;
}
