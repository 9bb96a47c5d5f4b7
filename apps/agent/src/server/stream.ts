// One pane streamed to one client: the replay on attach (exact screen snapshot, or the bytes
// missed since `from`), then live output as binary frames, with flow control driven by the
// client's acknowledgements. A writer that falls behind holds the pane's PTY (the shell blocks,
// nothing is dropped); a read-only viewer that falls behind never slows the writer: it stops
// receiving and catches up later with the missing bytes or a fresh snapshot.
import {
  FLOW_HIGH_BYTES,
  FLOW_LOW_BYTES,
  encodeOutputFrame,
  encodeSnapshotFrame,
  type AttachResult,
} from '@nslab/shared';
import type { Pane } from '../sandbox/pane.js';

/** How far a viewer may fall behind before it is skipped ahead. */
const VIEWER_MAX_IN_FLIGHT = 4 * FLOW_HIGH_BYTES;

export interface StreamSink {
  /** Send a binary frame; false when the connection is gone. */
  frame(bytes: Uint8Array): boolean;
}

export class PaneStream {
  /** Stream offsets: sent to the client, acknowledged by it. */
  private sent = 0;
  private acked = 0;
  private holding = false;
  private lagging = false;
  private resyncing = false;
  private stopped = false;
  private readonly onData = (chunk: Buffer, start: number) => this.forward(chunk, start);

  constructor(
    private readonly pane: Pane,
    private readonly key: string,
    readonly readOnly: boolean,
    private readonly sink: StreamSink,
  ) {}

  /**
   * Replay and start streaming. `announce` runs before any replay frame is sent, with what the
   * client is about to receive (the request's result goes out there, so it precedes the frames).
   */
  async start(from: number | undefined, announce: (result: AttachResult) => void): Promise<void> {
    const pane = this.pane;
    const base = { attached: true as const, running: pane.running, readOnly: this.readOnly };
    if (from !== undefined && from <= pane.offset) {
      const missed = pane.since(from);
      if (missed) {
        announce({ ...base, cols: pane.cols, rows: pane.rows, replay: 'resume', offset: from });
        this.sent = this.acked = from;
        this.listen();
        this.forward(missed, from);
        return;
      }
    }
    const snap = await pane.snapshot();
    if (this.stopped) return;
    // The snapshot callback ran synchronously after the screen parsed up to snap.offset; output
    // flushed since then is still in the ring (the PTY was held meanwhile).
    const rest = pane.since(snap.offset) ?? Buffer.alloc(0);
    announce({ ...base, cols: snap.cols, rows: snap.rows, replay: 'snapshot', offset: snap.offset });
    this.sendSnapshot(snap.screen, snap.offset, snap.cols, snap.rows);
    this.listen();
    this.forward(rest, snap.offset);
  }

  private listen() {
    this.pane.off('data', this.onData);
    this.pane.on('data', this.onData);
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
    this.flow();
  }

  private flow() {
    const inFlight = this.sent - this.acked;
    if (this.readOnly) {
      if (!this.lagging && inFlight > VIEWER_MAX_IN_FLIGHT) this.lagging = true;
      else if (this.lagging && inFlight <= FLOW_LOW_BYTES) void this.catchUp();
      return;
    }
    if (!this.holding && inFlight > FLOW_HIGH_BYTES) {
      this.holding = true;
      this.pane.hold(this);
    } else if (this.holding && inFlight <= FLOW_LOW_BYTES) {
      this.holding = false;
      this.pane.release(this);
    }
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
    if (this.holding) this.pane.release(this);
    this.holding = false;
  }
}
