'use client';
// Beside a builder pane: the code that makes exactly that pane, from the same choices the agent
// made it from (builderSnippets in @nslab/shared), in four languages, each plain text to copy.
// A nested pane's code names its parent's shell by the PID the lab sees (from the picture).
import { useState } from 'react';
import { builderSnippets, type BuilderChoice, type Lang } from '@nslab/shared';
import { BUILDER_STRINGS } from '../lib/builder-strings';
import { copy } from '../lib/clipboard';

const LANGS = ['shell', 'c', 'go', 'ts'] as const;

/**
 * `parent`: the choice of the pane this one is nested in (null: nested in a pane that is not a
 * builder pane; undefined: not nested); `parentPid`: that pane's shell as the lab sees it.
 */
export function BuilderCode({
  lang,
  choice,
  parent,
  parentPid,
}: {
  lang: Lang;
  choice: BuilderChoice;
  parent: BuilderChoice | null | undefined;
  parentPid: number | null;
}) {
  const nested = parent !== undefined;
  const b = BUILDER_STRINGS[lang];
  const [copied, setCopied] = useState<string | null>(null);
  let snippets: Record<(typeof LANGS)[number], string> | null = null;
  let problem: string | null = null;
  if (!nested || parentPid !== null) {
    try {
      snippets = builderSnippets(choice, nested && parentPid !== null ? { parentPid, ...(parent ? { parent } : {}) } : {});
    } catch (err) {
      problem = (err as Error).message;
    }
  }
  return (
    <aside className="builder-code" aria-label={b.code}>
      <h3>{b.code}</h3>
      {problem ? <p className="builder-error">{problem}</p> : null}
      {!snippets && !problem ? <p className="builder-note">…</p> : null}
      {snippets
        ? LANGS.map((l) => (
            <section key={l} className="builder-snippet">
              <div className="builder-snippet-head">
                <span>{b.snippet[l]}</span>
                <button
                  type="button"
                  className="btn btn-small"
                  onClick={() => {
                    void copy(snippets![l]).then((ok) => {
                      if (ok) setCopied(l);
                      setTimeout(() => setCopied((c) => (c === l ? null : c)), 1500);
                    });
                  }}
                >
                  {copied === l ? b.copied : b.copy}
                </button>
              </div>
              <pre data-snippet={l}>{snippets[l]}</pre>
            </section>
          ))
        : null}
    </aside>
  );
}
