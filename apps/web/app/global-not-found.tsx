// Any URL that is no page of the course: say so in both languages, and point back.
import type { Metadata } from 'next';
import './globals.css';

export const metadata: Metadata = { title: 'nslab: not found · 找不到页面' };

export default function GlobalNotFound() {
  return (
    <html lang="en">
      <body>
        <main className="notfound">
          <p className="eyebrow">404</p>
          <h1>This page is not part of the course.</h1>
          <p lang="zh-CN">这个页面不在课程里。</p>
          <p className="notfound-links">
            <a className="btn btn-primary" href="/en">
              Course (English)
            </a>
            <a className="btn" href="/zh" lang="zh-CN">
              课程（中文）
            </a>
          </p>
        </main>
      </body>
    </html>
  );
}
