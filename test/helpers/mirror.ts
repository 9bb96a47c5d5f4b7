// A client-side terminal for tests: applies a pane's frames (snapshot, output) to a headless
// xterm.js the way the web app applies them to its screen, so a test can compare screens.
import headless from '@xterm/headless';
import { SerializeAddon } from '@xterm/addon-serialize';
import { FRAME_OUTPUT, FRAME_SNAPSHOT, decodeSnapshot } from '@nslab/shared';

export class TerminalMirror {
  readonly term: InstanceType<typeof headless.Terminal>;
  private readonly ser = new SerializeAddon();
  /** Stream offset the screen shows. */
  offset = 0;
  snapshots = 0;

  constructor(cols = 100, rows = 30) {
    this.term = new headless.Terminal({ cols, rows, scrollback: 1000, allowProposedApi: true });
    this.term.loadAddon(this.ser as unknown as Parameters<typeof this.term.loadAddon>[0]);
  }

  apply(frame: { op: number; offset: number; payload: Uint8Array }) {
    if (frame.op === FRAME_SNAPSHOT) {
      const s = decodeSnapshot(frame.payload)!;
      this.term.reset();
      this.term.resize(s.cols, s.rows);
      this.term.write(s.screen);
      this.offset = frame.offset;
      this.snapshots++;
    } else if (frame.op === FRAME_OUTPUT) {
      if (frame.offset !== this.offset) throw new Error(`output at ${frame.offset}, but the screen is at ${this.offset}: bytes lost or duplicated`);
      this.term.write(frame.payload);
      this.offset += frame.payload.length;
    }
  }

  /** Everything written so far, parsed. */
  settled(): Promise<void> {
    return new Promise((r) => this.term.write('', r));
  }

  async screen(): Promise<string> {
    await this.settled();
    return this.ser.serialize({ scrollback: 1000 });
  }

  /** The visible lines as text (for readable assertions). */
  async text(): Promise<string> {
    await this.settled();
    const b = this.term.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < this.term.rows; i++) out.push(b.getLine(b.viewportY + i)?.translateToString(true) ?? '');
    return out.join('\n');
  }

  dispose() {
    this.term.dispose();
  }
}
