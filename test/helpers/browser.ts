// Debian's Chromium driven by playwright-core, with the flags these machines need.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { IN_CI, IS_ROOT } from './env.ts';

/** What the web app exposes on `window.__nslab` for tests (apps/web/lib/nslab-handle.ts). */
export interface NslabPage {
  /** Each pane's xterm.js Terminal. */
  terms: Record<string, any>;
  lab: string | null;
  /** The pane's screen as escape sequences (the serialize addon): equal strings, equal screens. */
  serialize(pane: string): string | null;
  /** Per pane: stream offset handed to the terminal, rendered by it, acknowledged to the agent; how the last attach replayed. */
  offsets?: () => Record<string, { queued: number | null; rendered: number; acked: number; replay?: string | null }>;
  /** Drop the page's WebSocket as a failing network would, unreachable for `forMs` (it reconnects by itself). */
  drop?: (forMs?: number) => void;
  readOnly?: boolean;
}

declare global {
  interface Window {
    __nslab?: NslabPage;
  }
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function haveChromium(): boolean {
  return existsSync(CHROMIUM);
}

/**
 * The `skip` of a file of browser tests: why they cannot run here, or false. Under CI=true they
 * must run, so a missing requirement fails instead.
 */
export function browserTestsSkip(what: string): string | false {
  if (IN_CI && (!IS_ROOT || !haveChromium())) throw new Error(`${what} need root and ${CHROMIUM}, and CI=true forbids skipping them`);
  return !IS_ROOT ? 'needs root' : !haveChromium() ? `needs ${CHROMIUM}` : false;
}

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
