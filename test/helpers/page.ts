// Driving the web app's lesson and watch pages in a browser as the end-to-end tests do: open a
// page, read a pane's screen and cursor from xterm's buffer (window.__nslab), type a command and
// wait for the shell's next prompt.
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Frame, Page } from 'playwright-core';
import './browser.ts';
import { waitFor } from './wait.ts';

export const LAPTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export { sleep, waitFor } from './wait.ts';

export interface OpenOptions {
  viewport?: { width: number; height: number };
  locale?: string;
  /** Let the page read and write the clipboard. */
  clipboard?: boolean;
}

/** A new browser context (its own cookies) with `url` loaded; the page's errors are logged. */
export async function openPage(
  browser: Browser,
  url: string,
  { viewport = LAPTOP, locale = 'en-US', clipboard = false }: OpenOptions = {},
): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport, locale });
  if (clipboard) await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(url).origin });
  const page = await ctx.newPage();
  page.on('pageerror', (err) => console.error(`page error on ${url}: ${err.message}`));
  const res = await page.goto(url);
  assert.equal(res?.status(), 200, url);
  return { ctx, page };
}

/** openPage, then `fn`; the context is closed however `fn` ends. */
export async function withPage<T>(browser: Browser, url: string, opts: OpenOptions, fn: (page: Page, ctx: BrowserContext) => Promise<T>): Promise<T> {
  const { ctx, page } = await openPage(browser, url, opts);
  try {
    return await fn(page, ctx);
  } finally {
    await ctx.close();
  }
}

/** The pane's screen (of a page, or of the view in a frame): every non-empty logical line of xterm's active buffer. */
export function screen(page: Page | Frame, pane: string): Promise<string> {
  return page.evaluate((p) => {
    const term = window.__nslab?.terms[p];
    if (!term) return '';
    const b = term.buffer.active;
    // One string per logical line: a line xterm wrapped continues the one before it.
    const out: string[] = [];
    for (let i = 0; i < b.length; i++) {
      const line = b.getLine(i);
      if (!line) continue;
      const text = line.translateToString(true);
      if (line.isWrapped && out.length) out[out.length - 1] += text;
      else out.push(text);
    }
    return out.filter((x) => x.trim()).join('\n');
  }, pane);
}

/** Where the pane's cursor is (absolute line) and whether that line is a shell prompt. */
export function cursor(page: Page | Frame, pane: string): Promise<{ y: number; prompt: boolean }> {
  return page.evaluate((p) => {
    const term = window.__nslab?.terms[p];
    if (!term) return { y: -1, prompt: false };
    const b = term.buffer.active;
    const line = b.getLine(b.baseY + b.cursorY)?.translateToString(true) ?? '';
    return { y: b.baseY + b.cursorY, prompt: /[#$] ?$/.test(line) };
  }, pane);
}

/** The pane's screen as escape sequences: equal strings, equal screens. */
export function serialized(page: Page, pane: string): Promise<string | null> {
  return page.evaluate((p) => window.__nslab?.serialize(p) ?? null, pane);
}

/** Wait until the pane's screen matches; returns the match (the screen's end goes into a failure). */
export async function expectScreen(page: Page, pane: string, re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
  return waitFor(`${re} in the ${pane} pane`, async () => (await screen(page, pane)).match(re), timeoutMs).catch(async (err) => {
    throw new Error(`${(err as Error).message}\n--- ${pane} ---\n${(await screen(page, pane)).slice(-3000)}`);
  });
}

/** Wait until the page has a lab and each pane shows a shell prompt. */
export async function waitPrompts(page: Page, panes: string[]) {
  await page.waitForFunction(() => !!window.__nslab?.lab, null, { timeout: 30_000 });
  for (const pane of panes) {
    await waitFor(`a prompt in the ${pane} pane`, async () => (await cursor(page, pane)).prompt, 30_000).catch(async (err) => {
      const conn = await page
        .locator('[data-conn]')
        .textContent({ timeout: 1000 })
        .catch(() => null);
      throw new Error(`${(err as Error).message} (connection: ${conn})\n--- ${pane} ---\n${await screen(page, pane)}`);
    });
  }
}

/** Type a command into the pane's terminal and press Enter. */
export async function typeCommand(page: Page, pane: string, command: string) {
  await page.click(`[data-pane="${pane}"] .pane-term`);
  await page.keyboard.type(command, { delay: 2 });
  await page.keyboard.press('Enter');
}

/**
 * Run a command in a pane (typed, unless `send` sends it otherwise) and, unless `wait` is false,
 * wait for the next prompt below the line the cursor was on.
 */
export async function run(
  page: Page,
  pane: string,
  command: string,
  { wait = true, send = () => typeCommand(page, pane, command) }: { wait?: boolean; send?: () => Promise<void> } = {},
) {
  const before = await cursor(page, pane);
  await send();
  if (!wait) return;
  await waitFor(`"${command}" to finish in ${pane}`, async () => {
    const now = await cursor(page, pane);
    return now.y > before.y && now.prompt;
  });
}
