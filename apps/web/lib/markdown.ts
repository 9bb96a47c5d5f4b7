// Lesson Markdown to HTML (server side, at build time). Code fences with `pane=<name>` in their
// info string get a Run button (the client sends the text to that pane) and a Copy button; other
// fences get a Copy button only. The buttons work through event delegation (LessonText.tsx).
// A block between a line `:::deeper <summary>` and a line `:::` becomes a closed
// <details class="deeper"> with that summary; its inside is lesson Markdown like the rest.
import { Marked, type Token, type TokenizerAndRendererExtension, type Tokens } from 'marked';
import { isName, type Lang } from '@nslab/shared';
import { STRINGS } from './i18n';

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** `sh pane=container` → { lang: 'sh', pane: 'container' } */
export function parseInfo(info: string | undefined): { lang: string; pane: string | null } {
  const words = (info ?? '').trim().split(/\s+/).filter(Boolean);
  let pane: string | null = null;
  let lang = '';
  for (const w of words) {
    if (w.startsWith('pane=') && isName(w.slice(5))) pane = w.slice(5);
    else if (!lang && !w.includes('=')) lang = w;
  }
  return { lang, pane };
}

const DEEPER_OPEN = /^:::deeper(?:[ \t]+([^\n]*?))?[ \t]*(?:\n|$)/;
const DEEPER_CLOSE = /^:::[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/**
 * Where the `:::` line that closes a deeper block starts in `body` and where it ends, skipping
 * `:::` lines inside code fences; null when the block is never closed.
 */
export function findDeeperClose(body: string): { start: number; end: number } | null {
  let fence: string | null = null;
  let pos = 0;
  while (pos < body.length) {
    const nl = body.indexOf('\n', pos);
    const end = nl < 0 ? body.length : nl + 1;
    const line = body.slice(pos, nl < 0 ? body.length : nl);
    const f = FENCE.exec(line);
    if (fence) {
      if (f && f[1]![0] === fence[0] && f[1]!.length >= fence.length && line.trim() === f[1]) fence = null;
    } else if (f) fence = f[1]!;
    else if (DEEPER_CLOSE.test(line)) return { start: pos, end };
    pos = end;
  }
  return null;
}

interface DeeperToken extends Tokens.Generic {
  type: 'deeper';
  raw: string;
  summary: string;
  summaryTokens: Token[];
  tokens: Token[];
}

function deeperExtension(defaultSummary: string): TokenizerAndRendererExtension {
  return {
    name: 'deeper',
    level: 'block',
    childTokens: ['summaryTokens', 'tokens'],
    start(src: string) {
      return /^:::deeper\b/m.exec(src)?.index;
    },
    tokenizer(src: string) {
      const open = DEEPER_OPEN.exec(src);
      if (!open) return undefined;
      const body = src.slice(open[0].length);
      const close = findDeeperClose(body);
      if (!close) return undefined; // renderMarkdown said so already
      const summary = open[1]?.trim() || defaultSummary;
      const token: DeeperToken = { type: 'deeper', raw: src.slice(0, open[0].length + close.end), summary, summaryTokens: [], tokens: [] };
      this.lexer.inline(summary, token.summaryTokens);
      this.lexer.blockTokens(body.slice(0, close.start), token.tokens);
      return token;
    },
    renderer(token) {
      const t = token as DeeperToken;
      return `<details class="deeper"><summary>${this.parser.parseInline(t.summaryTokens)}</summary><div class="deeper-body prose">${this.parser.parse(t.tokens)}</div></details>\n`;
    },
  };
}

export function makeRenderer(lang: Lang): Marked {
  const s = STRINGS[lang];
  const marked = new Marked({ gfm: true, breaks: false });
  marked.use({ extensions: [deeperExtension(s.deeperDefault)] });
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

/** Every `:::deeper` line (outside code fences) must have its `:::` line: throws naming the line. */
export function checkDeeper(md: string) {
  let fence: string | null = null;
  let open: number | null = null;
  md.split('\n').forEach((line, i) => {
    const f = FENCE.exec(line);
    if (fence) {
      if (f && f[1]![0] === fence[0] && f[1]!.length >= fence.length && line.trim() === f[1]) fence = null;
    } else if (f) fence = f[1]!;
    else if (/^:::deeper\b/.test(line)) {
      if (open !== null) throw new Error(`line ${i + 1}: a ":::deeper" block inside another one (line ${open}); close the first with ":::"`);
      open = i + 1;
    } else if (DEEPER_CLOSE.test(line)) {
      if (open === null) throw new Error(`line ${i + 1}: ":::" closes no ":::deeper" block`);
      open = null;
    }
  });
  if (open !== null) throw new Error(`line ${open}: ":::deeper" has no closing ":::" line`);
}

export function renderMarkdown(md: string, lang: Lang): string {
  checkDeeper(md);
  return joinCjkLines(makeRenderer(lang).parse(md, { async: false }) as string);
}
