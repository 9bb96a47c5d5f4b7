// What a page exposes on window.__nslab for the browser tests and for debugging: each pane's
// terminal and its screen, the lab, the stream offsets, a way to drop the connection. The tests
// rely on every field here (test/helpers/browser.ts describes them from their side).
import type { Terminal } from '@xterm/xterm';
import type { SerializeAddon } from '@xterm/addon-serialize';

export interface NslabHandle {
  terms: Record<string, Terminal>;
  lab: string | null;
  /** The pane's screen as escape sequences (scrollback, alternate buffer, modes, cursor). */
  serialize(pane: string): string | null;
  serializers: Record<string, SerializeAddon>;
  /** Stream offsets per pane (what the terminal has, what it rendered, what it acknowledged). */
  offsets?: () => Record<string, unknown>;
  /** Drop the WebSocket as a failing network would, unreachable for `forMs`; the page reconnects by itself. */
  drop?: (forMs?: number) => void;
  /** Read-only viewer page. */
  readOnly?: boolean;
}

declare global {
  interface Window {
    __nslab?: NslabHandle;
  }
}

export function nslabHandle(): NslabHandle {
  return (window.__nslab ??= {
    terms: {},
    lab: null,
    serializers: {},
    serialize(pane: string) {
      return this.serializers[pane]?.serialize() ?? null;
    },
  });
}

/** Publish a pane's terminal; the returned function takes it back (unless another replaced it). */
export function publishTerminal(name: string, term: Terminal, serializer: SerializeAddon): () => void {
  const nslab = nslabHandle();
  nslab.terms[name] = term;
  nslab.serializers[name] = serializer;
  return () => {
    if (nslab.terms[name] === term) {
      delete nslab.terms[name];
      delete nslab.serializers[name];
    }
  };
}
