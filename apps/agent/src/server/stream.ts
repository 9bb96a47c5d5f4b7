// One pane streamed to one client: the replay on attach (exact screen snapshot, or the bytes
// missed since `from`), then live output as binary frames, with flow control driven by the
// client's acknowledgements (docs/protocol.md, Flow control):
// - the pane's active writer (the writer that typed, focused or attached last) holds the pane's
//   PTY when it falls behind: the shell blocks, nothing is dropped;
// - but only while it acknowledges: with bytes in flight and no acknowledgement for
//   WRITER_STALE_MS it is stale, lets go, and the pane is paced (read slowly) until it or
//   another writer acknowledges again;
// - every other client (read-only viewers, writers not in use, stale writers) never slows the
//   pane: past VIEWER_MAX_IN_FLIGHT behind it stops receiving, and catches up later with the
//   missing bytes or a fresh snapshot.
import { FLOW_HIGH_BYTES, FLOW_LOW_BYTES, encodeOutputFrame, encodeSnapshotFrame, type AttachResult } from '@nslab/shared';
import type { Pane, PaneWriter } from '../sandbox/pane.js';

/** How far a viewer may fall behind before it is skipped ahead. */
const VIEWER_MAX_IN_FLIGHT = 4 * FLOW_HIGH_BYTES;
/** A writer holding its pane with no acknowledgement for this long lets go of it. */
export const WRITER_STALE_MS = 5000;

export interface StreamSink {
  /** Send a binary frame; false when the connection is gone. */
  frame(bytes: Uint8Array): boolean;
}

export class PaneStream implements PaneWriter {
  /** Stream offsets: sent to the client, acknowledged by it. */
  private sent = 0;
  private acked = 0;
  private holding = false;
  /** A writer whose acknowledgements stopped while it held the pane (see WRITER_STALE_MS). */
  private stale = false;
  private staleTimer: NodeJS.Timeout | null = null;
  private lagging = false;
  private resyncing = false;
  private stopped = false;
  private readonly onData = (chunk: Buffer, start: number) => this.forward(chunk, start);
  private readonly onWriters = () => this.flow();

  constructor(
    private readonly pane: Pane,
    private readonly key: string,
    readonly readOnly: boolean,
    private readonly sink: StreamSink,
  ) {}

  /**
   * Replay and start streaming. `announce` runs before any replay frame is sent, with what the
   * client is about to receive (the request's result goes out there, so it precedes the frames).
   * False when the stream was stopped while the screen was being taken (the lab closed, the
   * client detached or attached again): nothing was announced, the caller must answer.
   */
  async start(from: number | undefined, announce: (result: AttachResult) => void): Promise<boolean> {
    const pane = this.pane;
    const base = { attached: true as const, running: pane.running, readOnly: this.readOnly };
    if (from !== undefined && from <= pane.offset) {
      const missed = pane.since(from);
      if (missed) {
        announce({ ...base, cols: pane.cols, rows: pane.rows, replay: 'resume', offset: from });
        this.sent = this.acked = from;
        this.listen();
        this.forward(missed, from);
        return true;
      }
    }
    const snap = await pane.snapshot();
    if (this.stopped) return false;
    // The snapshot callback ran synchronously after the screen parsed up to snap.offset; output
    // flushed since then is still in the ring (the PTY was held meanwhile).
    const rest = pane.since(snap.offset) ?? Buffer.alloc(0);
    announce({ ...base, cols: snap.cols, rows: snap.rows, replay: 'snapshot', offset: snap.offset });
    this.sendSnapshot(snap.screen, snap.offset, snap.cols, snap.rows);
    this.listen();
    this.forward(rest, snap.offset);
    return true;
  }

  private listen() {
    this.pane.off('data', this.onData);
    this.pane.on('data', this.onData);
    this.pane.off('writers', this.onWriters);
    this.pane.on('writers', this.onWriters);
    if (!this.readOnly) this.pane.useWriter(this);
  }

  get acking(): boolean {
    return !this.stale;
  }

  /** The learner is using this client (it typed, or its terminal got the focus). */
  use() {
    if (this.readOnly || this.stopped) return;
    this.pane.useWriter(this);
    this.flow();
  }

  private sendSnapshot(screen: string, offset: number, cols: number, rows: number) {
    this.sent = this.acked = offset;
    this.sink.frame(encodeSnapshotFrame(this.key, offset, cols, rows, Buffer.from(screen)));
  }

  private forward(chunk: Buffer, start: number) {
    if (this.stopped || this.lagging || !chunk.length) return;
    const end = start + chunk.length;
    if (end <= this.sent) return;
    // A replay and live output can overlap by a few bytes: send each byte once.
    const fresh = start < this.sent ? chunk.subarray(this.sent - start) : chunk;
    if (!this.sink.frame(encodeOutputFrame(this.key, this.sent > start ? this.sent : start, fresh))) return;
    this.sent = end;
    this.flow();
  }

  /** The client rendered everything before `offset`. */
  ack(offset: number) {
    if (offset > this.sent) offset = this.sent;
    if (offset <= this.acked) return;
    this.acked = offset;
    this.watchStale();
    if (this.stale) {
      this.stale = false;
      this.pane.writersChanged();
    }
    this.flow();
  }

  /** Does this client's pace count (it is the pane's active, acknowledging writer)? */
  private get inCharge(): boolean {
    return !this.readOnly && !this.stale && this.pane.activeWriter === this;
  }

  private flow() {
    const inFlight = this.sent - this.acked;
    if (!this.inCharge) {
      if (this.holding) this.letGo();
      if (!this.lagging && inFlight > VIEWER_MAX_IN_FLIGHT) this.lagging = true;
      else if (this.lagging && inFlight <= FLOW_LOW_BYTES) void this.catchUp();
      return;
    }
    if (this.lagging) {
      if (inFlight <= FLOW_LOW_BYTES) void this.catchUp();
      return;
    }
    if (!this.holding && inFlight > FLOW_HIGH_BYTES) {
      this.holding = true;
      this.pane.hold(this);
      this.watchStale();
    } else if (this.holding && inFlight <= FLOW_LOW_BYTES) this.letGo();
  }

  private letGo() {
    this.holding = false;
    this.pane.release(this);
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.staleTimer = null;
  }

  /** While it holds the pane, a writer must acknowledge within WRITER_STALE_MS. */
  private watchStale() {
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.staleTimer = null;
    if (!this.holding) return;
    this.staleTimer = setTimeout(() => {
      this.staleTimer = null;
      if (!this.holding || this.stopped) return;
      this.stale = true;
      this.letGo();
      this.pane.writersChanged();
    }, WRITER_STALE_MS);
    this.staleTimer.unref?.();
  }

  /** A viewer that fell behind: the bytes it missed if still kept, else the screen as it is now. */
  private async catchUp() {
    if (this.resyncing) return;
    this.resyncing = true;
    try {
      const missed = this.pane.since(this.sent);
      if (missed) {
        this.lagging = false;
        this.forward(missed, this.sent);
        return;
      }
      const snap = await this.pane.snapshot();
      if (this.stopped) return;
      const rest = this.pane.since(snap.offset) ?? Buffer.alloc(0);
      this.lagging = false;
      this.sendSnapshot(snap.screen, snap.offset, snap.cols, snap.rows);
      this.forward(rest, snap.offset);
    } finally {
      this.resyncing = false;
    }
  }

  stop() {
    this.stopped = true;
    this.pane.off('data', this.onData);
    this.pane.off('writers', this.onWriters);
    if (this.holding) this.letGo();
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.staleTimer = null;
    if (!this.readOnly) this.pane.dropWriter(this);
  }
}
