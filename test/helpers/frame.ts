// Driving the embed view inside a portal's page, as test/helpers/page.ts drives the lesson page:
// the same reads of a pane's screen and cursor (window.__nslab), for a Frame as well as a Page.
// Keystrokes go through the page's keyboard, which types into the focused element in whichever
// frame it is: clicking a pane in the frame gives its terminal the keyboard.
import type { ElementHandle, Frame, Page } from 'playwright-core';
import './browser.ts';
import { waitFor } from './wait.ts';

/** A page, or a frame in one. */
export type Doc = Page | Frame;

function pageOf(doc: Doc): Page {
  return 'keyboard' in doc ? doc : doc.page();
}

/** The frame of the first element matching `selector` (an iframe), once it has one. */
export async function frameOf(page: Page, selector = 'iframe'): Promise<Frame> {
  const el = (await page.waitForSelector(selector)) as ElementHandle<HTMLIFrameElement>;
  return waitFor(`the frame of ${selector}`, () => el.contentFrame(), 10_000);
}

/** The pane's screen: every non-empty logical line of xterm's active buffer. */
export function screenOf(doc: Doc, pane: string): Promise<string> {
  return doc.evaluate((p) => {
    const term = window.__nslab?.terms[p];
    if (!term) return '';
    const b = term.buffer.active;
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
export function cursorOf(doc: Doc, pane: string): Promise<{ y: number; prompt: boolean }> {
  return doc.evaluate((p) => {
    const term = window.__nslab?.terms[p];
    if (!term) return { y: -1, prompt: false };
    const b = term.buffer.active;
    const line = b.getLine(b.baseY + b.cursorY)?.translateToString(true) ?? '';
    return { y: b.baseY + b.cursorY, prompt: /[#$] ?$/.test(line) };
  }, pane);
}

/** Wait until the view has a lab and each pane shows a shell prompt. */
export async function waitPromptsIn(doc: Doc, panes: string[]) {
  // What the view says of its connection goes into a failure.
  const conn = () =>
    doc
      .locator('[data-conn]')
      .textContent({ timeout: 1000 })
      .catch(() => null);
  await doc
    .waitForFunction(() => !!window.__nslab?.lab, null, { timeout: 30_000 })
    .catch(async (err) => {
      throw new Error(`${(err as Error).message} (connection: ${await conn()})`);
    });
  for (const pane of panes) {
    await waitFor(`a prompt in the ${pane} pane`, async () => (await cursorOf(doc, pane)).prompt, 30_000).catch(async (err) => {
      throw new Error(`${(err as Error).message} (connection: ${await conn()})\n--- ${pane} ---\n${await screenOf(doc, pane)}`);
    });
  }
}

/** Type a command into the pane's terminal, press Enter, and wait for the next prompt below. */
export async function runIn(doc: Doc, pane: string, command: string) {
  const before = await cursorOf(doc, pane);
  await doc.click(`[data-pane="${pane}"] .pane-term`);
  const keyboard = pageOf(doc).keyboard;
  await keyboard.type(command, { delay: 2 });
  await keyboard.press('Enter');
  await waitFor(`"${command}" to finish in ${pane}`, async () => {
    const now = await cursorOf(doc, pane);
    return now.y > before.y && now.prompt;
  }).catch(async (err) => {
    throw new Error(`${(err as Error).message}\n--- ${pane} ---\n${(await screenOf(doc, pane)).slice(-2000)}`);
  });
}
