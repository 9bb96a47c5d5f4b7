// The latest output of a pane, kept by stream offset, so that a client whose connection dropped
// can be sent exactly the bytes it missed. Bounded: the oldest chunks go first.
export class OutputRing {
  private chunks: Buffer[] = [];
  private bytes = 0;
  /** Stream offset of the first byte still held. */
  private first = 0;

  constructor(private readonly capacity: number) {}

  /** Stream offset just past the last byte appended. */
  get end(): number {
    return this.first + this.bytes;
  }

  /** Append the bytes that start at stream offset `end` (the stream has no gaps). */
  append(chunk: Buffer) {
    if (!chunk.length) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.bytes - this.chunks[0]!.length >= this.capacity) {
      const dropped = this.chunks.shift()!;
      this.bytes -= dropped.length;
      this.first += dropped.length;
    }
  }

  /** Everything from stream offset `from` to the end, or null when those bytes are gone. */
  since(from: number): Buffer | null {
    if (from < this.first || from > this.end) return null;
    let skip = from - this.first;
    const out: Buffer[] = [];
    for (const c of this.chunks) {
      if (skip >= c.length) {
        skip -= c.length;
        continue;
      }
      out.push(skip ? c.subarray(skip) : c);
      skip = 0;
    }
    return Buffer.concat(out);
  }
}
