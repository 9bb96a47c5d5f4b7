// Copy and paste in a pane's terminal, as an xterm.js addon: selecting text copies it; Ctrl/Cmd+V
// and Shift+Insert paste (the browser's own paste event, which xterm turns into input, bracketed
// when the program asked for it, never a ^V); Cmd+C, Ctrl+Shift+C and Ctrl+Insert copy the
// selection (plain Ctrl+C stays an interrupt); a right-click copies the selection when there is
// one, else pastes the clipboard where the browser lets the page read it (otherwise the browser's
// own menu opens, whose Paste works too). Load it after open(), with the terminal's KeyRules.
import type { IDisposable, ITerminalAddon, Terminal } from '@xterm/xterm';
import { clipboardReadable, copy, followClipboardPermission, readClipboard } from './clipboard';
import { modKey, type KeyRules } from './term-keys';

/** A selection is copied once it has stopped changing for this long (a drag changes it often). */
const COPY_AFTER_MS = 250;

export class CopyPasteAddon implements ITerminalAddon {
  private subs: IDisposable[] = [];

  constructor(
    private readonly keys: KeyRules,
    /** A viewer's terminal takes no input: a right-click never pastes. */
    private readonly opts: { readOnly?: boolean } = {},
  ) {}

  activate(term: Terminal) {
    const el = term.element;
    if (!el) throw new Error('CopyPasteAddon: load it after the terminal is open');
    followClipboardPermission();
    this.subs.push(this.keys.add((e) => this.key(e, term)));

    let timer: ReturnType<typeof setTimeout> | undefined;
    this.subs.push(
      term.onSelectionChange(() => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          const sel = term.getSelection();
          if (sel) void copy(sel);
        }, COPY_AFTER_MS);
      }),
      { dispose: () => clearTimeout(timer) },
    );

    const onContextMenu = (e: MouseEvent) => this.contextMenu(e, term);
    el.addEventListener('contextmenu', onContextMenu);
    this.subs.push({ dispose: () => el.removeEventListener('contextmenu', onContextMenu) });
  }

  private key(e: KeyboardEvent, term: Terminal): boolean | undefined {
    // Paste: xterm ignores the key, so the browser fires its paste event into xterm's textarea.
    if (modKey(e, 'v')) return false;
    if (e.shiftKey && e.key === 'Insert') return false;
    const copyKey = (e.key.toLowerCase() === 'c' && (e.metaKey || (e.ctrlKey && e.shiftKey))) || (e.ctrlKey && e.key === 'Insert');
    if (e.type === 'keydown' && copyKey && term.hasSelection()) {
      void copy(term.getSelection());
      return false;
    }
    return undefined;
  }

  private contextMenu(e: MouseEvent, term: Terminal) {
    if (term.hasSelection()) {
      e.preventDefault();
      void copy(term.getSelection());
      term.clearSelection();
      return;
    }
    if (this.opts.readOnly || !clipboardReadable()) return;
    e.preventDefault();
    void readClipboard().then((text) => {
      // null: not allowed after all, nothing pasted.
      if (text === null) return;
      if (text) term.paste(text);
      term.focus();
    });
  }

  dispose() {
    for (const d of this.subs) d.dispose();
    this.subs = [];
  }
}
