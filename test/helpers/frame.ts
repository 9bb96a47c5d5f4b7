// Driving the embed view inside a portal's page, as test/helpers/page.ts drives the lesson page:
// the same reads of a pane's screen and cursor (window.__nslab), for a Frame as well as a Page.
// Keystrokes go through the page's keyboard, which types into the focused element in whichever
// frame it is: clicking a pane in the frame gives its terminal the keyboard.
import type { ElementHandle, Frame, Page } from 'playwright-core';
import './browser.ts';
import { waitFor } from './wait.ts';
import { cursor as cursorOf, screen as screenOf } from './page.ts';

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

/** The pane's screen and cursor: the lesson page's readers, which take a frame as well. */
export { cursor as cursorOf, screen as screenOf } from './page.ts';

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
