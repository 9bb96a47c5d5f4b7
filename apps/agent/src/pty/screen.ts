// A pane's screen as a terminal would show it: every output byte goes through a headless xterm.js,
// so a client that attaches (a reload, a second tab, a viewer) gets the exact screen, including
// full-screen programs on the alternate buffer, their modes and the cursor, as one snapshot.
import headless from '@xterm/headless';
import { SerializeAddon } from '@xterm/addon-serialize';

export interface Snapshot {
  /** Escape sequences that redraw the screen in a fresh terminal of cols x rows. */
  screen: string;
  /** The stream offset the snapshot shows: every byte before it, none after. */
  offset: number;
  cols: number;
  rows: number;
}

export class Screen {
  private readonly term: InstanceType<typeof headless.Terminal>;
  private readonly serializer = new SerializeAddon();
  /** Stream offset of the bytes handed to the terminal, and of those it has parsed. */
  private written = 0;
  private parsed = 0;
  private disposed = false;

  constructor(
    cols: number,
    rows: number,
    private readonly scrollback: number,
    /** Called whenever parsing catches up with a write (to resume a paused reader). */
    private readonly onParsed: () => void,
  ) {
    this.term = new headless.Terminal({ cols, rows, scrollback, allowProposedApi: true });
    // The addon only needs the terminal's public buffer API, which the headless build shares.
    this.term.loadAddon(this.serializer as unknown as Parameters<typeof this.term.loadAddon>[0]);
  }

  /** Bytes written but not yet parsed. */
  get backlog(): number {
    return this.written - this.parsed;
  }

  /** Feed the bytes that end at stream offset `end`. */
  write(chunk: Buffer, end: number) {
    if (this.disposed) return;
    this.written = end;
    this.term.write(chunk, () => {
      this.parsed = end;
      this.onParsed();
    });
  }

  resize(cols: number, rows: number) {
    if (!this.disposed && (cols !== this.term.cols || rows !== this.term.rows)) this.term.resize(cols, rows);
  }

  /**
   * The screen once everything written so far is parsed. The callback runs synchronously right
   * after the last of those bytes is parsed, so nothing written later is in the snapshot.
   */
  snapshot(done: (snap: Snapshot) => void) {
    if (this.disposed) return;
    const at = this.written;
    this.term.write('', () => {
      done({ screen: this.serializer.serialize({ scrollback: this.scrollback }), offset: at, cols: this.term.cols, rows: this.term.rows });
    });
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    this.term.dispose();
  }
}
