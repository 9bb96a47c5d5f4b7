'use client';
// The language switcher: the same page in the other language (a lesson stays the lesson). The
// choice is remembered in a cookie so that `/` takes the learner back to it.
import type { Lang } from '@nslab/shared';
import { LANG_LIST, LANG_NAME } from '../lib/i18n';

export function LangSwitch({ lang, path, label }: { lang: Lang; path: string; label: string }) {
  const remember = (l: Lang) => {
    // biome-ignore lint/suspicious/noDocumentCookie: the Cookie Store API is not in every browser we support
    document.cookie = `nslab_lang=${l}; path=/; max-age=31536000; samesite=lax`;
  };
  return (
    <nav className="langswitch" aria-label={label}>
      {LANG_LIST.map((l) =>
        l === lang ? (
          <span key={l} className="lang-opt current" aria-current="true" lang={l === 'zh' ? 'zh-CN' : 'en'}>
            {LANG_NAME[l]}
          </span>
        ) : (
          <a
            key={l}
            className="lang-opt"
            href={`/${l}${path}`}
            hrefLang={l === 'zh' ? 'zh-CN' : 'en'}
            lang={l === 'zh' ? 'zh-CN' : 'en'}
            onClick={() => remember(l)}
            data-lang-switch={l}
          >
            {LANG_NAME[l]}
          </a>
        ),
      )}
    </nav>
  );
}
