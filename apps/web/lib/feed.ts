// One pane's output stream into one terminal (protocol v2): snapshot and output frames, the
// stream offset the terminal shows, and flow-control acknowledgements driven by xterm's write
// callbacks (the xterm.js flow-control guide). The same class feeds the learner's panes and a
// read-only viewer's.
import { ACK_EVERY_BYTES, FRAME_OUTPUT, FRAME_SNAPSHOT, decodeSnapshot, type Frame } from '@nslab/shared';

/** What a feed needs from a terminal: xterm's Terminal has all of it. */
export interface FeedTerm {
  write(data: Uint8Array | string, callback?: () => void): void;
  reset(): void;
  resize(cols: number, rows: number): void;
  readonly cols: number;
  readonly rows: number;
}

export interface FeedOptions {
  /** Acknowledge that everything before `offset` is rendered. */
  ack(offset: number): void;
  /** Bytes are missing (never expected): the pane must be attached again, without `from`. */
  gap(): void;
  /** A viewer: take the snapshot's size (the writer's), instead of keeping the terminal's own. */
  follow?: boolean;
}

/** Acks go out at most this often while output pours in, so a flood costs few messages. */
const ACK_MIN_INTERVAL_MS = 10;
/** A trickle of output (typing) is acknowledged once it pauses. */
const ACK_IDLE_MS = 50;
/** Ack as soon as this much is rendered and unacknowledged (the interval permitting). */
const ACK_STEP = ACK_EVERY_BYTES / 2;
/**
 * The last acknowledgement is sent again this often while output came in lately, so that one
 * that was lost (a dropped message, a reconnect in between) cannot leave the pane held.
 */
const REACK_MS = 1000;
const REACK_FOR_MS = 5000;

export class PaneFeed {
  /** Stream offset just past the last byte handed to the terminal; null until a snapshot came. */
  private queued: number | null = null;
  /** Stream offset just past the last byte xterm has parsed, and the last one acknowledged. */
  private rendered = 0;
  private acked = 0;
  /** Bumped by every snapshot and reset: write callbacks of an older epoch are stale. */
  private epoch = 0;
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private reackTimer: ReturnType<typeof setInterval> | null = null;
  private lastAckAt = 0;
  private lastOutputAt = 0;
  /** Runs once, right after the next snapshot is on screen. */

  constructor(
    readonly term: FeedTerm,
    private readonly opts: FeedOptions,
  ) {}

  /** Where an attach after a dropped connection continues (`from`); undefined: ask for a snapshot. */
  get resumeFrom(): number | undefined {
    return this.queued ?? undefined;
  }

  /** The stream offsets, for tests and diagnostics. */
  get offsets() {
    return { queued: this.queued, rendered: this.rendered, acked: this.acked };
  }

  /** The terminal no longer shows this stream (a new lab, a cleared screen): the next attach needs a snapshot. */
  forget() {
    this.queued = null;
    this.epoch++;
    this.clearTimer();
  }

  frame(f: Frame) {
    if (f.op === FRAME_OUTPUT) this.output(f.offset, f.payload);
    else if (f.op === FRAME_SNAPSHOT) this.snapshot(f.offset, f.payload);
  }

  /** A viewer follows the writer's size, in order with the bytes before and after the change. */
  resizeInBand(cols: number, rows: number) {
    this.term.write('', () => {
      if (cols !== this.term.cols || rows !== this.term.rows) this.term.resize(cols, rows);
    });
  }

  private output(offset: number, payload: Uint8Array) {
    if (this.queued === null || !payload.length) return;
    const end = offset + payload.length;
    // Bytes the terminal already has (a replay overlapping live output) are skipped, once each.
    if (end <= this.queued) return;
    if (offset > this.queued) {
      this.queued = null;
      this.opts.gap();
      return;
    }
    const fresh = offset < this.queued ? payload.subarray(this.queued - offset) : payload;
    this.queued = end;
    this.lastOutputAt = Date.now();
    this.reackSoon();
    const epoch = this.epoch;
    this.term.write(fresh, () => this.onRendered(epoch, end));
  }

  private snapshot(offset: number, payload: Uint8Array) {
    const snap = decodeSnapshot(payload);
    if (!snap) return;
    ++this.epoch;
    this.clearTimer();
    this.queued = offset;
    // The agent counts a snapshot as acknowledged: the accounting restarts at its offset.
    this.rendered = this.acked = offset;
    const { cols, rows, screen } = snap;
    // Reset in band: output still queued in xterm from before the snapshot is parsed first, then
    // the screen is redrawn in a fresh terminal, exactly as the agent's own terminal shows it.
    this.term.write('', () => {
      this.term.reset();
      if (this.opts.follow && (cols !== this.term.cols || rows !== this.term.rows)) this.term.resize(cols, rows);
    });
    this.term.write(screen);
  }

  private onRendered(epoch: number, end: number) {
    if (epoch !== this.epoch || end <= this.rendered) return;
    this.rendered = end;
    const unacked = this.rendered - this.acked;
    const now = performance.now();
    if (unacked >= ACK_STEP && now - this.lastAckAt >= ACK_MIN_INTERVAL_MS) return this.sendAck();
    if (!this.ackTimer) this.ackTimer = setTimeout(() => this.sendAck(), unacked >= ACK_STEP ? ACK_MIN_INTERVAL_MS : ACK_IDLE_MS);
  }

  private sendAck() {
    this.clearTimer();
    if (this.rendered <= this.acked) return;
    this.acked = this.rendered;
    this.lastAckAt = performance.now();
    this.opts.ack(this.rendered);
  }

  private reackSoon() {
    if (this.reackTimer) return;
    this.reackTimer = setInterval(() => {
      if (Date.now() - this.lastOutputAt > REACK_FOR_MS) {
        clearInterval(this.reackTimer!);
        this.reackTimer = null;
        return;
      }
      // Whatever is rendered, acknowledged again (the agent ignores an offset it has).
      if (this.rendered > 0 && this.queued !== null) {
        this.acked = Math.max(this.acked, this.rendered);
        this.opts.ack(this.acked);
      }
    }, REACK_MS);
  }

  private clearTimer() {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
  }

  dispose() {
    this.forget();
    if (this.reackTimer) clearInterval(this.reackTimer);
    this.reackTimer = null;
  }
}
