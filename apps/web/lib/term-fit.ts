// A pane's terminal the size of its box, as an xterm.js addon: a writer's terminal takes as many
// columns and rows as fit (and says so, for the agent to resize the pane's PTY); a viewer's keeps
// the writer's columns and rows and is scaled down as a whole to fit. Follows the box as it
// changes. Load it after open(), with the FitAddon already loaded.
import type { IDisposable, ITerminalAddon, Terminal } from '@xterm/xterm';
import type { FitAddon } from '@xterm/addon-fit';

export interface BoxFitOptions {
  /** Scale instead of fitting (a viewer: the writer decides the size). */
  scale: boolean;
  /** The terminal took a new size from its box. */
  resized?(cols: number, rows: number): void;
}

export class BoxFitAddon implements ITerminalAddon {
  private subs: IDisposable[] = [];
  private disposed = false;

  constructor(
    private readonly fit: FitAddon,
    private readonly opts: BoxFitOptions,
  ) {}

  activate(term: Terminal) {
    const box = term.element?.parentElement;
    if (!box) throw new Error('BoxFitAddon: load it after the terminal is open');
    const update = () => {
      if (this.disposed || box.clientWidth < 20 || box.clientHeight < 20) return;
      if (this.opts.scale) this.scaleToFit(term, box);
      else this.fitToBox(term);
    };
    update();
    const ro = new ResizeObserver(() => requestAnimationFrame(update));
    ro.observe(box);
    this.subs.push({ dispose: () => ro.disconnect() });
    if (this.opts.scale) this.subs.push(term.onResize(() => requestAnimationFrame(update)));
  }

  private fitToBox(term: Terminal) {
    const before = [term.cols, term.rows];
    try {
      this.fit.fit();
    } catch {
      return;
    }
    if (term.cols !== before[0] || term.rows !== before[1]) this.opts.resized?.(term.cols, term.rows);
  }

  /** The whole terminal shrunk to fit its box (never enlarged); the scale is on the box as data-scale. */
  private scaleToFit(term: Terminal, box: HTMLElement) {
    const el = term.element;
    const screen = el?.querySelector<HTMLElement>('.xterm-screen');
    if (!el || !screen?.offsetWidth || !screen.offsetHeight) return;
    const width = screen.offsetWidth + 16;
    const height = screen.offsetHeight + 4;
    const scale = Math.min(1, box.clientWidth / width, box.clientHeight / height);
    el.style.transformOrigin = '0 0';
    el.style.transform = scale < 1 ? `scale(${scale})` : '';
    el.style.width = `${width}px`;
    el.style.height = `${height}px`;
    box.dataset.scale = scale.toFixed(3);
  }

  dispose() {
    this.disposed = true;
    for (const d of this.subs) d.dispose();
    this.subs = [];
  }
}
