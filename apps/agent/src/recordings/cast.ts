// One pane's recording as an asciicast v2 file (https://docs.asciinema.org/manual/asciicast/v2/):
// a header line (size, start time, title), then one JSON array per event: output "o", input
// "i", a resize "r" ("COLSxROWS"), a marker "m" (a task done, named after the task). A recording
// over its cap keeps its beginning (half the cap) and its end (the other half, held in memory
// until it closes) and says, in a marker where the cut is, what was left out.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { splitInput } from '@nslab/shared';

/** Longest text of one event (at most 6 bytes a character once escaped in JSON). */
const SLICE_CHARS = 512;

export interface CastHeader {
  width: number;
  height: number;
  title: string;
}

export class CastWriter {
  private readonly out: WriteStream;
  private readonly t0 = performance.now();
  private readonly decoders = { o: new StringDecoder('utf8'), i: new StringDecoder('utf8') };
  private written = 0;
  /** Events past the head, newest last, at most half the cap in bytes. */
  private tail: string[] = [];
  private tailBytes = 0;
  private cut = { events: 0, bytes: 0, from: 0, to: 0 };
  private closed = false;
  /** When the last event came. */
  lastEventAt = new Date();

  constructor(
    readonly path: string,
    header: CastHeader,
    private readonly capBytes: number,
  ) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.out = createWriteStream(path, { flags: 'a', mode: 0o600 });
    this.out.on('error', () => {
      this.closed = true; // a full disk loses the recording, never the lab
    });
    const line = `${JSON.stringify({
      version: 2,
      width: header.width,
      height: header.height,
      timestamp: Math.floor(Date.now() / 1000),
      title: header.title,
      env: { TERM: 'xterm-256color', SHELL: '/bin/bash' },
    })}\n`;
    this.out.write(line);
    this.written += Buffer.byteLength(line);
  }

  /** Bytes in the file so far (the head), and held for the end. */
  get bytes(): number {
    return this.written + this.tailBytes;
  }

  private now(): number {
    return Math.round(performance.now() - this.t0) / 1000;
  }

  private event(code: string, data: string) {
    if (this.closed || data === '') return;
    // A large chunk is several events at one time: no single line can push the file past its cap.
    if (data.length > SLICE_CHARS) {
      for (const piece of splitInput(data, SLICE_CHARS)) this.event(code, piece);
      return;
    }
    this.lastEventAt = new Date();
    const t = this.now();
    const line = `${JSON.stringify([t, code, data])}\n`;
    const n = Buffer.byteLength(line);
    if (!this.tail.length && this.written + n <= this.capBytes / 2) {
      this.out.write(line);
      this.written += n;
      return;
    }
    this.tail.push(line);
    this.tailBytes += n;
    while (this.tailBytes > this.capBytes / 2 && this.tail.length > 0) {
      const old = this.tail.shift()!;
      const bytes = Buffer.byteLength(old);
      this.tailBytes -= bytes;
      if (!this.cut.events) this.cut.from = JSON.parse(old)[0] as number;
      this.cut.to = JSON.parse(old)[0] as number;
      this.cut.events++;
      this.cut.bytes += bytes;
    }
  }

  output(chunk: Buffer) {
    this.event('o', this.decoders.o.write(chunk));
  }

  input(chunk: Buffer) {
    this.event('i', this.decoders.i.write(chunk));
  }

  resize(cols: number, rows: number) {
    this.event('r', `${cols}x${rows}`);
  }

  marker(label: string) {
    this.event('m', label);
  }

  /** Write what is held and close the file. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.cut.events) {
      const note = `cut: ${this.cut.events} events (${this.cut.bytes} bytes) from ${this.cut.from.toFixed(1)} s to ${this.cut.to.toFixed(1)} s were left out (the recording's cap is ${this.capBytes} bytes)`;
      this.out.write(`${JSON.stringify([this.cut.from, 'm', note])}\n`);
    }
    for (const line of this.tail) this.out.write(line);
    this.tail = [];
    return new Promise((r) => this.out.end(() => r()));
  }
}
