// A pane's xterm.js terminal, made and opened in its box with every addon it uses: fit to the box
// (or scaled, for a viewer), clickable links, search, Unicode 11 widths (CJK), the serializer (the
// screen as escape sequences, for tests), the key rules, copy and paste. xterm.js needs a
// browser, so its modules are loaded here, on demand, never when the page is rendered on the
// server.
import type { Terminal } from '@xterm/xterm';
import type { SearchAddon } from '@xterm/addon-search';
import type { SerializeAddon } from '@xterm/addon-serialize';
import type { TermLike } from './store';
import { KeyRules } from './term-keys';
import { CopyPasteAddon } from './term-clipboard';
import { BoxFitAddon } from './term-fit';
import { TERM_FONT, TERM_THEME } from './term-theme';

/** Where a pane's terminal gets its stream, and sends its keys and size (a LabSession, a WatchSession). */
export interface PaneSource {
  registerTerminal(name: string, term: TermLike): () => void;
  input(pane: string, data: string): boolean;
  resize(pane: string, cols: number, rows: number): void;
  restart(pane: string): Promise<void>;
  /** The learner is using this terminal (a watch page has none: read-only). */
  focus?(pane: string): void;
}

export interface PaneTerminal {
  term: Terminal;
  search: SearchAddon;
  serializer: SerializeAddon;
  /** Add a rule for keys xterm should leave alone. */
  keys: KeyRules;
}

export interface OpenOptions {
  /** A viewer's terminal: no input, the writer's size (scaled to fit). */
  readOnly: boolean;
  /** A writer's terminal took a new size from its box. */
  resized(cols: number, rows: number): void;
  /** Aborted while xterm was loading: nothing is opened (the result is null). */
  signal: AbortSignal;
}

/** Open a terminal in `host`; dispose of it with `term.dispose()` (its addons go with it). */
export async function openTerminal(host: HTMLElement, { readOnly, resized, signal }: OpenOptions): Promise<PaneTerminal | null> {
  const [{ Terminal }, { FitAddon }, { WebLinksAddon }, { SearchAddon }, { Unicode11Addon }, { SerializeAddon }] = await Promise.all([
    import('@xterm/xterm'),
    import('@xterm/addon-fit'),
    import('@xterm/addon-web-links'),
    import('@xterm/addon-search'),
    import('@xterm/addon-unicode11'),
    import('@xterm/addon-serialize'),
  ]);
  if (signal.aborted || !host.isConnected) return null;
  const small = window.matchMedia('(max-width: 600px)').matches;
  const term = new Terminal({
    fontFamily: TERM_FONT,
    fontSize: small ? 12 : 13,
    lineHeight: 1.15,
    cursorBlink: !readOnly,
    disableStdin: readOnly,
    scrollback: 5000,
    allowProposedApi: true,
    theme: TERM_THEME,
    macOptionIsMeta: true,
    rightClickSelectsWord: false,
    convertEol: false,
  });
  const fit = new FitAddon();
  const search = new SearchAddon();
  const serializer = new SerializeAddon();
  const keys = new KeyRules();
  term.loadAddon(fit);
  term.loadAddon(serializer);
  term.loadAddon(new WebLinksAddon());
  term.loadAddon(search);
  term.loadAddon(new Unicode11Addon());
  term.unicode.activeVersion = '11';
  term.loadAddon(keys);
  term.open(host);
  // These two need the terminal on the page.
  term.loadAddon(new CopyPasteAddon(keys, { readOnly }));
  term.loadAddon(new BoxFitAddon(fit, { scale: readOnly, resized }));
  return { term, search, serializer, keys };
}
