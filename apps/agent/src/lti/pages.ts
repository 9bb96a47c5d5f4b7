// The tool's own small pages, rendered by the agent (not the web app): a refused login or launch
// (why, in plain words), the Deep Linking lesson picker, and the auto-submitting form that takes
// a signed message to the platform. Every value is escaped; nothing secret is ever put in one
// (a refusal names claims and ids, never a token or a key).
import type { ServerResponse } from 'node:http';
import { BASE_CSP, escapeHtml, sendPage as send } from '../portal/pages.js';

/** Why a request was refused: its status, a title, and what to say. */
export interface Refusal {
  status: number;
  title: string;
  lines: string[];
}

/** A lesson as the picker shows it. */
export interface PickerLesson {
  id: string;
  titles: { en: string; zh: string };
  tasks: number;
}

/** A refusal: its title, each line, and where to go from here (in both languages). */
export function refusalPage(res: ServerResponse, r: Refusal): void {
  const lines = [...r.lines, 'Open the activity again from your course. / 请回到课程平台重新打开这个活动。'];
  send(
    res,
    r.status,
    `${BASE_CSP}; form-action 'none'`,
    r.title,
    `<h1 data-testid="lti-title">${escapeHtml(r.title)}</h1>${lines.map((l) => `<p data-testid="lti-why">${escapeHtml(l)}</p>`).join('')}`,
  );
}

/** The Deep Linking picker: one button per lesson, posting the choice with the launch's reference. */
export function pickerPage(res: ServerResponse, o: { lessons: PickerLesson[]; ref: string; lang: 'en' | 'zh'; heading?: string | null }): void {
  const zh = o.lang === 'zh';
  const title = o.heading?.trim() || (zh ? '选择一课 nslab 课程 / Choose an nslab lesson' : 'Choose an nslab lesson / 选择一课');
  const items = o.lessons
    .map((l) => {
      const [first, second] = zh ? [l.titles.zh, l.titles.en] : [l.titles.en, l.titles.zh];
      const tasks = zh ? `${l.tasks} 个任务 · ${l.tasks} tasks` : `${l.tasks} tasks · ${l.tasks} 个任务`;
      return (
        `<li><button type="submit" name="lesson" value="${escapeHtml(l.id)}" data-lesson="${escapeHtml(l.id)}">` +
        `<strong>${escapeHtml(first)}</strong><br><small>${escapeHtml(second)} · ${escapeHtml(l.id)} · ${tasks}</small></button></li>`
      );
    })
    .join('');
  send(
    res,
    200,
    `${BASE_CSP}; form-action 'self'`,
    title,
    `<h1 data-testid="lti-title">${escapeHtml(title)}</h1>` +
      `<p>${zh ? '所选的一课会作为活动加入你的课程。' : 'The lesson you pick is added to your course as an activity.'}</p>` +
      `<form method="post" action="/lti/deep-link"><input type="hidden" name="ref" value="${escapeHtml(o.ref)}"><ul>${items}</ul></form>`,
  );
}

/**
 * A form that posts itself to another server (the platform's Deep Linking return URL) with
 * these fields, by a script with this page's nonce, or by its button without scripts.
 */
export function autoPostPage(res: ServerResponse, o: { action: string; fields: Record<string, string>; title: string; nonce: string }): void {
  const inputs = Object.entries(o.fields)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  send(
    res,
    200,
    `${BASE_CSP}; script-src 'nonce-${o.nonce}'`,
    o.title,
    `<h1 data-testid="lti-title">${escapeHtml(o.title)}</h1>` +
      `<form id="post" method="post" action="${escapeHtml(o.action)}">${inputs}<noscript><button type="submit">Continue / 继续</button></noscript></form>` +
      `<script nonce="${o.nonce}">document.getElementById('post').submit()</script>`,
  );
}
