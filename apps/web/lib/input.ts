// Keystrokes and pastes into one pane, in order and without loss. A keystroke goes out at once;
// text larger than one message (a paste) is split into chunks of at most MAX_INPUT_CHARS, each
// sent after the agent confirmed the one before, and sent again after a rate-limited answer.
// Whatever is typed while a paste is on its way waits behind it.
import { splitInput } from '@nslab/shared';

/** Input shorter than this is sent without waiting for a reply when nothing is queued. */
const DIRECT_CHARS = 1024;

export interface InputSink {
  /** Send without asking for a reply; false when not connected. */
  send(data: string): boolean;
  /** Send and wait for the agent's `{written}` (rejects with the agent's error). */
  request(data: string): Promise<unknown>;
}

export interface InputError {
  code: string;
  message: string;
}

/** Seconds to wait before sending again, from a rate-limited error ("... again in N s"). */
export function retryAfterS(message: string): number {
  const m = /in (\d+(?:\.\d+)?) ?s\b/.exec(message);
  return m ? Math.max(0.2, Number(m[1])) : 1;
}

export class InputQueue {
  private chunks: string[] = [];
  private draining = false;
  /** Bumped by clear(): a drain of an older generation stops. */
  private generation = 0;

  constructor(private readonly sink: InputSink) {}

  /** Queue text for the pane; false when it cannot be sent at all (not connected). */
  push(data: string): boolean {
    if (!data) return true;
    if (!this.draining && this.chunks.length === 0 && data.length <= DIRECT_CHARS) return this.sink.send(data);
    this.chunks.push(...splitInput(data));
    if (!this.draining) void this.drain();
    return true;
  }

  /** Chunks still to send (tests, a progress hint). */
  get pending(): number {
    return this.chunks.length;
  }

  /** Drop what is queued (the connection or the lab went away). */
  clear() {
    this.chunks = [];
    this.generation++;
  }

  private async drain() {
    this.draining = true;
    const gen = this.generation;
    try {
      while (this.chunks.length && gen === this.generation) {
        try {
          await this.sink.request(this.chunks[0]!);
          if (gen === this.generation) this.chunks.shift();
        } catch (err) {
          const e = err as InputError;
          if (e.code === 'rate-limited') {
            await new Promise((r) => setTimeout(r, retryAfterS(e.message) * 1000));
            continue;
          }
          // Not connected, the shell exited, the lab is gone: whether the chunk in flight arrived
          // is unknown, and sending the rest later into another state would surprise; drop it.
          if (gen === this.generation) this.chunks = [];
          return;
        }
      }
    } finally {
      if (gen === this.generation) this.draining = false;
      else if (this.chunks.length) void this.drain();
      else this.draining = false;
    }
  }
}
