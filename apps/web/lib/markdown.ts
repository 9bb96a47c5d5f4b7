// Lesson Markdown to HTML (server side, at build time). Code fences with `pane=<name>` in their
// info string get a Run button (the client sends the text to that pane) and a Copy button; other
// fences get a Copy button only. The buttons work through event delegation (LessonText.tsx).
import { Marked, type Tokens } from 'marked';
import type { Lang } from '@nslab/shared';
import { STRINGS } from './i18n';

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** `sh pane=container` → { lang: 'sh', pane: 'container' } */
export function parseInfo(info: string | undefined): { lang: string; pane: string | null } {
  const words = (info ?? '').trim().split(/\s+/).filter(Boolean);
  let pane: string | null = null;
  let lang = '';
  for (const w of words) {
    const m = /^pane=([a-z][a-z0-9-]{0,31})$/.exec(w);
    if (m) pane = m[1]!;
    else if (!lang && !w.includes('=')) lang = w;
  }
  return { lang, pane };
}

export function makeRenderer(lang: Lang): Marked {
  const s = STRINGS[lang];
  const marked = new Marked({ gfm: true, breaks: false });
  marked.use({
    renderer: {
      code(token: Tokens.Code): string {
        const { lang: codeLang, pane } = parseInfo(token.lang);
        const text = token.text.replace(/\n+$/, '');
        const cls = codeLang ? ` class="language-${escapeHtml(codeLang)}"` : '';
        const copy = `<button type="button" class="cb-btn cb-copy" data-action="copy" aria-label="${escapeHtml(s.copy)}">${escapeHtml(s.copy)}</button>`;
        const run = pane
          ? `<button type="button" class="cb-btn cb-run" data-action="run" data-run="${pane}" title="${escapeHtml(s.runIn(pane))}"><span aria-hidden="true">▶</span> ${escapeHtml(s.run)}</button>`
          : '';
        const label = pane ? `<span class="cb-pane cb-pane-${pane}">${pane}</span>` : `<span class="cb-lang">${escapeHtml(codeLang)}</span>`;
        return (
          `<div class="codeblock${pane ? ' codeblock-run' : ''}"${pane ? ` data-run-block="${pane}"` : ''}>` +
          `<div class="cb-bar">${label}<span class="cb-actions">${copy}${run}</span></div>` +
          `<pre><code${cls}>${escapeHtml(text)}</code></pre></div>\n`
        );
      },
      link(token: Tokens.Link): string {
        const href = escapeHtml(token.href);
        const inner = this.parser.parseInline(token.tokens);
        const external = /^https?:\/\//.test(token.href);
        return `<a href="${href}"${token.title ? ` title="${escapeHtml(token.title)}"` : ''}${external ? ' target="_blank" rel="noreferrer"' : ''}>${inner}</a>`;
      },
    },
  });
  return marked;
}

const CJK = '\\p{Script=Han}\\u3000-\\u303f\\uff00-\\uffef';
const CJK_BREAK = new RegExp(`([${CJK}])[ \\t]*\\n[ \\t]*(?=[${CJK}])`, 'gu');

/**
 * A line break inside a paragraph is a space in HTML: right between Chinese characters that
 * space shows. Join such lines (outside <pre>, where line breaks are the content).
 */
export function joinCjkLines(html: string): string {
  return html
    .split(/(<pre[\s\S]*?<\/pre>)/)
    .map((part) => (part.startsWith('<pre') ? part : part.replace(CJK_BREAK, '$1')))
    .join('');
}

export function renderMarkdown(md: string, lang: Lang): string {
  return joinCjkLines(makeRenderer(lang).parse(md, { async: false }) as string);
}
