// The keys a terminal leaves to someone else (the browser, the page): xterm.js takes one custom
// key handler per terminal, so this addon holds it and asks each rule in turn. A rule answers
// false (xterm ignores the key: the browser or the page has it), true (xterm handles it) or
// undefined (not this rule's key). While an input method composes, every key belongs to it.
import type { IDisposable, ITerminalAddon, Terminal } from '@xterm/xterm';

export type KeyRule = (e: KeyboardEvent, term: Terminal) => boolean | undefined;

/** Ctrl or Cmd, without Alt, with `key` (case-insensitive). */
export function modKey(e: KeyboardEvent, key: string): boolean {
  return (e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === key;
}

export class KeyRules implements ITerminalAddon {
  private readonly rules: KeyRule[] = [];

  activate(term: Terminal) {
    term.attachCustomKeyEventHandler((e) => {
      // Chinese, Japanese... typed through an input method: xterm reads the composition itself.
      if (e.isComposing || e.keyCode === 229) return true;
      for (const rule of this.rules) {
        const r = rule(e, term);
        if (r !== undefined) return r;
      }
      return true;
    });
  }

  /** A rule, asked after the ones added before it. */
  add(rule: KeyRule): IDisposable {
    this.rules.push(rule);
    return {
      dispose: () => {
        const i = this.rules.indexOf(rule);
        if (i >= 0) this.rules.splice(i, 1);
      },
    };
  }

  /** With no rule left, the handler passes every key to xterm. */
  dispose() {
    this.rules.length = 0;
  }
}
