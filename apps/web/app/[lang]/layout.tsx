import type { Metadata, Viewport } from 'next';
import type { ReactNode } from 'react';
import { notFound } from 'next/navigation';
import { HTML_LANG, LANG_LIST, STRINGS, isLang } from '../../lib/i18n';
import '../globals.css';

export const dynamicParams = false;

export function generateStaticParams() {
  return LANG_LIST.map((lang) => ({ lang }));
}

export async function generateMetadata({ params }: { params: Promise<{ lang: string }> }): Promise<Metadata> {
  const { lang } = await params;
  const s = STRINGS[isLang(lang) ? lang : 'en'];
  return { title: s.siteTitle, description: s.siteDescription, icons: { icon: '/favicon.svg' } };
}

export const viewport: Viewport = {
  width: 'device-width',
  initialScale: 1,
  themeColor: [
    { media: '(prefers-color-scheme: light)', color: '#f6f5f1' },
    { media: '(prefers-color-scheme: dark)', color: '#101314' },
  ],
};

export default async function RootLayout({ children, params }: { children: ReactNode; params: Promise<{ lang: string }> }) {
  const { lang } = await params;
  if (!isLang(lang)) notFound();
  return (
    <html lang={HTML_LANG[lang]}>
      <body className={`lang-${lang}`}>{children}</body>
    </html>
  );
}
