import type { ReactNode } from 'react';
import type { Lang } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import { LangSwitch } from './LangSwitch';

export function Logo() {
  return (
    <svg className="logo" viewBox="0 0 32 32" aria-hidden="true">
      <rect width="32" height="32" rx="7" fill="var(--accent)" />
      <rect x="6" y="7" width="20" height="18" rx="3" fill="none" stroke="#fff" strokeWidth="2.2" />
      <rect x="11" y="12" width="10" height="8" rx="2" fill="#fbbf24" />
    </svg>
  );
}

/** The bar on top of every page: the brand (back to the course), what is in the middle, the language switcher. */
export function TopBar({ lang, path, children }: { lang: Lang; path: string; children?: ReactNode }) {
  const s = STRINGS[lang];
  return (
    <header className="topbar">
      <a className="brand" href={`/${lang}`} title={s.course}>
        <Logo />
        <span className="brand-name">nslab</span>
      </a>
      <div className="topbar-mid">{children}</div>
      <LangSwitch lang={lang} path={path} label={s.switchLanguage} />
    </header>
  );
}
