// What one simulated learner's terminal knows about one pane, across its connections: the
// stream offset it shows, and checks of everything it receives.
//
// - Offsets: every output frame must start exactly where the previous one ended (a frame that
//   starts later lost the bytes in between; one that starts earlier repeats bytes). A snapshot
//   frame resets the terminal: output continues at the snapshot's offset.
// - Acknowledgements as the page sends them (apps/web/lib/feed.ts): the offset rendered, once
//   32 KiB are unacknowledged (at most every 10 ms), else 50 ms after output pauses, and again
//   once a second while output came in the last 5 s. Rendering is immediate here; `acking =
//   false` plays a background tab that stops acknowledging.
// - Text to wait for (markers, the prompt), found in output and in snapshot screens.
// - A `seq` run (SeqCheck): every number once, in order.
import { ACK_EVERY_BYTES, decodeSnapshot } from '@nslab/shared';

const ACK_STEP = ACK_EVERY_BYTES / 2;
const ACK_MIN_INTERVAL_MS = 10;
const ACK_IDLE_MS = 50;
/** While output came in lately, the last acknowledgement again once a second (a lost one cannot stop a pane). */
const REACK_MS = 1000;
const REACK_FOR_MS = 5000;

/** Bytes of the lines `from`..`to - 1` as `seq` prints them on a terminal ("N\r\n"). */
export function seqBytes(from: number, to: number): number {
  let n = 0;
  for (let digits = 1, lo = 1; lo < to; digits++, lo *= 10) {
    const hi = lo * 10;
    const a = Math.max(from, lo);
    const b = Math.min(to, hi);
    if (b > a) n += (b - a) * (digits + 2);
  }
  return n;
}

/**
 * `echo sq<k>-start; seq 1 <last>; echo sq<k>-end` as the terminal receives it: after the start
 * line, the lines 1..last, each exactly once and in order, then the end line.
 *
 * When a snapshot intervenes (a reload, a resume the agent could not serve from its ring, a
 * client caught up after falling behind), the bytes it stands for are by design not sent: the
 * run is then checked differently, from the first whole line after the snapshot on: every number
 * from there once and in order up to `last`, then the end line. Such a run is counted apart
 * (`resynced`), and what the snapshot covered is not counted as lost.
 */
export class SeqCheck {
  phase: 'before' | 'numbers' | 'done' = 'before';
  next = 1;
  private line = '';
  /** Skip to the end of the current (partial) line, then take the next number as where we are. */
  private resyncing = false;
  /** A snapshot intervened: see above. */
  resynced = false;
  /** The end line came in a snapshot screen: the tail of the run cannot be checked. */
  endInSnapshot = false;
  missing = 0;
  repeated = 0;
  lostBytes = 0;
  repeatedBytes = 0;
  /** Lines that are neither a number nor a marker (an agent notice, garbage). */
  strange: string[] = [];
  strangeCount = 0;
  readonly start: string;
  readonly end: string;

  constructor(
    readonly k: number,
    readonly last: number,
  ) {
    this.start = `sq${k}-start`;
    this.end = `sq${k}-end`;
  }

  get command(): string {
    return `echo sq$((${this.k}+0))-start; seq 1 ${this.last}; echo sq$((${this.k}+0))-end\r`;
  }

  feed(text: string) {
    if (this.phase === 'done') return;
    let i = 0;
    for (;;) {
      const nl = text.indexOf('\n', i);
      if (nl < 0) {
        this.line += text.slice(i);
        if (this.line.length > 256) {
          if (this.phase === 'numbers') this.strangeLine(this.line.slice(0, 80));
          this.line = '';
        }
        return;
      }
      const line = this.line + text.slice(i, nl);
      this.line = '';
      i = nl + 1;
      this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
      if ((this.phase as SeqCheck['phase']) === 'done') return;
    }
  }

  private onLine(line: string) {
    if (this.resyncing) {
      // The rest of a line the snapshot cut: not checkable. From the next whole line on, the run
      // is checked again.
      this.resyncing = false;
      if (line.endsWith(this.end)) {
        this.phase = 'done';
        return;
      }
      this.phase = 'numbers';
      this.next = line.endsWith(this.start) ? 1 : -1;
      return;
    }
    if (line.endsWith(this.start)) {
      if (this.phase === 'before' || this.next < 0) {
        this.phase = 'numbers';
        this.next = 1;
      } else this.strangeLine(line);
      return;
    }
    if (this.phase === 'before') return;
    if (line.endsWith(this.end)) {
      if (this.next > 0 && this.next <= this.last) {
        this.missing += this.last - this.next + 1;
        this.lostBytes += seqBytes(this.next, this.last + 1);
      }
      this.phase = 'done';
      return;
    }
    if (!/^\d+$/.test(line)) {
      this.strangeLine(line);
      return;
    }
    const n = Number(line);
    if (this.next < 0) {
      // First whole line after a snapshot: where the run is now.
      this.next = n + 1;
      return;
    }
    if (n === this.next) this.next++;
    else if (n > this.next) {
      this.missing += n - this.next;
      this.lostBytes += seqBytes(this.next, n);
      this.next = n + 1;
    } else {
      this.repeated++;
      this.repeatedBytes += line.length + 2;
    }
  }

  private strangeLine(line: string) {
    this.strangeCount++;
    if (this.strange.length < 5) this.strange.push(JSON.stringify(line.slice(0, 80)));
  }

  /** A snapshot replaced the terminal's screen (`screen`: its text). */
  snapshot(screen: string) {
    if (this.phase === 'done') return;
    this.resynced = true;
    this.line = '';
    if (screen.includes(this.end)) {
      this.endInSnapshot = true;
      this.phase = 'done';
      return;
    }
    this.resyncing = true;
  }

  get ok(): boolean {
    return this.missing === 0 && this.repeated === 0 && this.strangeCount === 0;
  }
}

interface Watch {
  text: string;
  carry: string;
  found: boolean;
}

export type SnapshotCause = 'attach' | 'resume-fallback' | 'catch-up';

export interface FaultSink {
  lost(view: PaneView, bytes: number, detail: string): void;
  repeated(view: PaneView, bytes: number, detail: string): void;
  snapshot(view: PaneView, cause: SnapshotCause): void;
  protocol(view: PaneView, detail: string): void;
}

export class PaneView {
  /** Stream offset just past what the terminal shows; null until a snapshot has come. */
  expected: number | null = null;
  /** What the current attach waits for first. */
  private mode: 'await-snapshot' | 'await-resume' | 'live' = 'live';
  bytes = 0;
  lastAt = performance.now();
  running = true;
  /** Restart in progress: its pane-exit is expected. */
  restarting = false;
  /** Acknowledge (a visible tab); false: a background tab that stopped. */
  acking = true;
  private acked = 0;
  private ackTimer: NodeJS.Timeout | null = null;
  private reackTimer: NodeJS.Timeout | null = null;
  private lastAckAt = 0;
  private lastOutputAt = 0;
  private watches = new Set<Watch>();
  seq: SeqCheck | null = null;
  send: ((msg: Record<string, unknown>) => void) | null = null;

  constructor(
    readonly lab: string,
    readonly name: string,
    readonly who: string,
    private readonly sink: FaultSink,
  ) {}

  get key() {
    return `${this.lab}/${this.name}`;
  }

  /** An attach is about to be sent on a connection: with `from` (resume) or without (snapshot). */
  beginAttach(send: (msg: Record<string, unknown>) => void, from: number | undefined) {
    this.send = send;
    this.clearTimer();
    if (from === undefined) {
      this.mode = 'await-snapshot';
      this.expected = null;
    } else {
      this.mode = 'await-resume';
      this.expected = from;
      this.acked = from;
    }
  }

  /** The attach's answer. Returns a problem, if the answer contradicts what was asked. */
  attached(result: { replay: string; offset: number }, from: number | undefined): string | null {
    if (result.replay === 'resume') {
      if (from === undefined) return `resume answered to an attach without from`;
      if (result.offset !== from) return `resume at ${result.offset}, asked from ${from}`;
      if (this.mode === 'await-resume') this.mode = 'live';
    }
    return null;
  }

  /** The attach is done (the connection went away): nothing more will arrive for it. */
  detached() {
    this.send = null;
    this.clearTimer();
    if (this.mode === 'await-snapshot') this.mode = 'live';
  }

  get awaitingSnapshot(): boolean {
    return this.mode === 'await-snapshot' || this.mode === 'await-resume';
  }

  output(offset: number, payload: Uint8Array) {
    const len = payload.length;
    if (this.mode === 'await-snapshot' || this.expected === null) {
      this.sink.protocol(this, `output at ${offset} before the snapshot`);
      this.expected = offset;
    }
    this.mode = 'live';
    let fresh = payload;
    if (offset > this.expected) {
      this.sink.lost(this, offset - this.expected, `frame at ${offset}, expected ${this.expected}`);
    } else if (offset < this.expected) {
      const overlap = Math.min(this.expected - offset, len);
      this.sink.repeated(this, overlap, `frame at ${offset}, expected ${this.expected}`);
      fresh = payload.subarray(overlap);
    }
    this.expected = Math.max(this.expected, offset + len);
    this.bytes += len;
    this.lastAt = performance.now();
    if (fresh.length) {
      const text = Buffer.from(fresh.buffer, fresh.byteOffset, fresh.byteLength).toString('latin1');
      this.seq?.feed(text);
      this.check(text);
    }
    this.rendered();
  }

  snapshotFrame(offset: number, payload: Uint8Array) {
    const snap = decodeSnapshot(payload);
    if (!snap) return this.sink.protocol(this, 'a snapshot frame that does not decode');
    const cause: SnapshotCause = this.mode === 'await-snapshot' ? 'attach' : this.mode === 'await-resume' ? 'resume-fallback' : 'catch-up';
    this.sink.snapshot(this, cause);
    this.mode = 'live';
    this.clearTimer();
    this.expected = offset;
    // The agent counts a snapshot as acknowledged.
    this.acked = offset;
    this.lastAt = performance.now();
    const screen = Buffer.from(snap.screen).toString('latin1');
    this.seq?.snapshot(screen);
    for (const w of this.watches) {
      if (!w.found && screen.includes(w.text)) w.found = true;
      w.carry = '';
    }
  }

  /** Look for `text` in what arrives from now on (output or a snapshot's screen). */
  watch(text: string): { readonly found: boolean; cancel(): void } {
    const w: Watch = { text, carry: '', found: false };
    this.watches.add(w);
    const watches = this.watches;
    return {
      get found() {
        return w.found;
      },
      cancel: () => watches.delete(w),
    };
  }

  private check(text: string) {
    for (const w of this.watches) {
      if (w.found) continue;
      const s = w.carry + text;
      if (s.includes(w.text)) {
        w.found = true;
        this.watches.delete(w);
      } else w.carry = s.slice(-(w.text.length - 1));
    }
  }

  // --- acknowledgements, as the page sends them ---

  private rendered() {
    if (this.expected === null) return;
    this.lastOutputAt = performance.now();
    this.reackSoon();
    const unacked = this.expected - this.acked;
    const now = performance.now();
    if (unacked >= ACK_STEP && now - this.lastAckAt >= ACK_MIN_INTERVAL_MS) return this.sendAck();
    if (!this.ackTimer) this.ackTimer = setTimeout(() => this.sendAck(), unacked >= ACK_STEP ? ACK_MIN_INTERVAL_MS : ACK_IDLE_MS);
  }

  sendAck() {
    this.clearTimer();
    if (!this.acking || !this.send || this.expected === null || this.expected <= this.acked) return;
    this.acked = this.expected;
    this.lastAckAt = performance.now();
    this.send({ type: 'ack', lab: this.lab, pane: this.name, offset: this.expected });
  }

  private reackSoon() {
    if (this.reackTimer) return;
    this.reackTimer = setInterval(() => {
      if (performance.now() - this.lastOutputAt > REACK_FOR_MS || !this.send) {
        clearInterval(this.reackTimer!);
        this.reackTimer = null;
        return;
      }
      // Whatever is rendered, acknowledged again (the agent ignores an offset it has).
      if (this.acking && this.expected !== null && this.expected > 0) {
        this.acked = Math.max(this.acked, this.expected);
        this.send({ type: 'ack', lab: this.lab, pane: this.name, offset: this.acked });
      }
    }, REACK_MS);
    this.reackTimer.unref();
  }

  private clearTimer() {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
  }

  dispose() {
    this.clearTimer();
    if (this.reackTimer) clearInterval(this.reackTimer);
    this.reackTimer = null;
    this.watches.clear();
    this.send = null;
  }
}
