'use client';
// The builder's panel: which namespaces a new pane gets, the options they need, and where it is
// made (the lab, or inside another pane's namespaces). Create asks the agent for the pane; what
// the agent or the rules refuse is said under the button, in the learner's words.
import { useState } from 'react';
import { NAMESPACES, NAMESPACE_TYPES, builderProblems, type BuilderChoice, type Lang, type NamespaceType } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import { BUILDER_STRINGS } from '../lib/builder-strings';
import { errorMessage } from '../lib/socket';

/** The choice the panel's state stands for: an option counts only where its namespaces are ticked. */
export function choiceFrom(types: Set<NamespaceType>, opts: { mapUser: boolean; mountProc: boolean; fork: boolean; hostname: string }): BuilderChoice {
  const has = (t: NamespaceType) => types.has(t);
  const hostname = opts.hostname.trim();
  return {
    types: NAMESPACE_TYPES.filter(has),
    mapUser: has('user') && opts.mapUser,
    mountProc: has('mnt') && has('pid') && opts.mountProc,
    fork: has('pid') && opts.fork,
    ...(has('uts') && hostname ? { hostname } : {}),
  };
}

export function BuilderForm(props: {
  lang: Lang;
  ready: boolean;
  /** The panes a new one may be made in (the host pane, the builder's), with the choice each was made with. */
  parents: Record<string, BuilderChoice>;
  full: string | null;
  create: (choice: BuilderChoice, parent: string | undefined) => Promise<unknown>;
}) {
  const { lang, ready, parents, full, create } = props;
  const s = STRINGS[lang];
  const b = BUILDER_STRINGS[lang];
  const [types, setTypes] = useState<Set<NamespaceType>>(() => new Set(['uts']));
  const [opts, setOpts] = useState({ mapUser: true, mountProc: true, fork: true, hostname: '' });
  const [parent, setParent] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const choice = choiceFrom(types, opts);
  const nest = parent in parents ? parent : '';
  const problems = builderProblems(choice, nest ? parents[nest] : undefined);

  const toggle = (t: NamespaceType) =>
    setTypes((old) => {
      const next = new Set(old);
      if (next.has(t)) next.delete(t);
      else next.add(t);
      return next;
    });
  const option = (key: 'mapUser' | 'mountProc' | 'fork', label: string, enabled: boolean) => (
    <label className={`builder-option${enabled ? '' : ' is-off'}`}>
      <input
        type="checkbox"
        data-option={key}
        checked={enabled && opts[key]}
        disabled={!enabled}
        onChange={(e) => setOpts({ ...opts, [key]: e.target.checked })}
      />
      {label}
    </label>
  );

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      await create(choice, nest || undefined);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="builder-form"
      aria-labelledby="builder-form-h"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <h2 id="builder-form-h">{b.formTitle}</h2>
      <fieldset>
        <legend>{b.types}</legend>
        <div className="builder-types">
          {NAMESPACE_TYPES.map((t) => (
            <label key={t} className="builder-type" title={`${NAMESPACES[t].flag}, Linux ${NAMESPACES[t].since}`}>
              <input type="checkbox" data-ns={t} checked={types.has(t)} onChange={() => toggle(t)} />
              <span className="builder-type-name">{s.typeName[t] ?? t}</span>
              <code>{NAMESPACES[t].flag}</code>
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset>
        <legend>{b.options}</legend>
        {option('mapUser', b.mapUser, types.has('user'))}
        {option('mountProc', b.mountProc, types.has('mnt') && types.has('pid'))}
        {option('fork', b.fork, types.has('pid'))}
        <label className={`builder-option builder-hostname${types.has('uts') ? '' : ' is-off'}`}>
          {b.hostname}
          <input
            type="text"
            data-option="hostname"
            value={opts.hostname}
            maxLength={63}
            disabled={!types.has('uts')}
            placeholder="bird"
            onChange={(e) => setOpts({ ...opts, hostname: e.target.value })}
          />
        </label>
      </fieldset>
      <label className="builder-nest">
        {b.nest}
        <select data-nest value={nest} onChange={(e) => setParent(e.target.value)}>
          <option value="">{b.nestLab}</option>
          {Object.keys(parents).map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
      </label>
      {problems.length ? (
        <ul className="builder-problems" data-builder-problems>
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      ) : null}
      <button type="submit" className="btn btn-primary" data-create disabled={!ready || busy || problems.length > 0 || full !== null}>
        {busy ? b.creating : b.create}
      </button>
      {full ? <p className="builder-note">{full}</p> : null}
      {error ? (
        <p className="builder-error" role="alert" data-builder-error>
          {error}
        </p>
      ) : null}
    </form>
  );
}
