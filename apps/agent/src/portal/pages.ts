// nslab's own small HTML pages, rendered by the agent rather than the web app: a refused launch
// link, the LTI tool's refusals, picker and auto-posting form. Every value is escaped by the
// caller with escapeHtml; the CSP allows nothing but the page's own style.
import type { ServerResponse } from 'node:http';

export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2.5rem auto;padding:0 1rem;color:#222}h1{font-size:1.3rem}' +
  'ul{list-style:none;padding:0}li{margin:.5rem 0}button{font:inherit;width:100%;text-align:left;padding:.6rem .8rem;border:1px solid #bbb;' +
  'border-radius:6px;background:#fafafa;cursor:pointer}button:hover{background:#eef4ff}small{color:#666}';

export const BASE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'";

/** Send a page: `title` is text (escaped here), `body` HTML already escaped by the caller. */
export function sendPage(res: ServerResponse, status: number, csp: string, title: string, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'content-security-policy': csp,
  });
  res.end(
    `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title>` +
      `<style>${STYLE}</style></head><body>${body}</body></html>`,
  );
}
