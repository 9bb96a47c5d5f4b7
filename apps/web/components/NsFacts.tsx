// What one namespace holds that its lesson is about, as the agent read it from the kernel: the
// host name of a UTS namespace, the id-map chain of a user namespace, the devices of a network
// namespace, the clock offsets of a time namespace, the System V objects of an IPC namespace, the
// cgroup root of a cgroup namespace. `full` for the lesson's own type, else one short line.
import type { NamespaceType, Picture } from '@nslab/shared';
import type { Strings } from '../lib/i18n';
import { idChains, offsetText, type IdChain, type IdHop } from '../lib/picture';

type Facts = NonNullable<Picture['facts']>;

interface Props {
  type: NamespaceType;
  inode: number;
  picture: Picture;
  full: boolean;
  s: Strings;
}

const hopLabel = (h: IdHop, s: Strings) =>
  h.where === 'here' ? s.factHere : h.where === 'lab' ? s.factInLab : h.where === 'host' ? s.factOnHost : s.factInNs(h.where);

function Chain({ chain, s }: { chain: IdChain; s: Strings }) {
  const { inside, outside, count } = chain.line;
  return (
    <li className="idchain" data-uid-map={`${inside} ${outside} ${count}`} title={s.factMapLine(inside, outside, count)}>
      {chain.hops.map((h, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: a hop is its place in the chain; the chain is redrawn whole
        <span key={i} className={`hop hop-${typeof h.where === 'number' ? 'ns' : h.where}`}>
          {i > 0 ? (
            <span className="hop-arrow" aria-hidden="true">
              →
            </span>
          ) : null}
          <b>{h.id}</b>
          <small>{hopLabel(h, s)}</small>
        </span>
      ))}
      {count > 1 ? <span className="hop-count">{s.factIds(count)}</span> : null}
    </li>
  );
}

function UserFacts({ facts, inode, picture, full, s }: { facts: NonNullable<Facts['user']> } & Omit<Props, 'type'>) {
  const own = facts[String(inode)];
  if (!own) return null;
  const chains = idChains(facts, inode, picture.lab.user);
  if (!full) {
    const c = chains[0];
    return (
      <span className="fact-line" data-fact="uid-map">
        {c ? c.hops.map((h) => h.id).join(' → ') : s.factNoMap}
      </span>
    );
  }
  const sameGid = JSON.stringify(own.gidMap) === JSON.stringify(own.uidMap);
  return (
    <div className="facts facts-user" data-fact="uid-map">
      <span className="fact-key">{s.factUidMap}</span>
      {chains.length ? (
        <ul className="idchains">
          {chains.map((c, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: chains have no identity but their order, which the agent keeps
            <Chain key={i} chain={c} s={s} />
          ))}
        </ul>
      ) : (
        <p className="fact-none">{s.factNoMap}</p>
      )}
      <span className="fact-sub" data-gid-map={own.gidMap.map((l) => `${l.inside} ${l.outside} ${l.count}`).join(',')}>
        {s.factGidMap}: {sameGid ? s.factSameAsUid : own.gidMap.length ? own.gidMap.map((l) => `${l.inside} ${l.outside} ${l.count}`).join(', ') : s.factNone}
      </span>
    </div>
  );
}

function NetFacts({ facts, inode, full, s }: { facts: NonNullable<Facts['net']> } & Omit<Props, 'type' | 'picture'>) {
  const own = facts[String(inode)];
  if (!own) return null;
  if (!full) {
    return (
      <span className="fact-line" data-fact="devices">
        {own.devices.map((d) => d.name).join(' ') || s.factNoDevices}
      </span>
    );
  }
  return (
    <div className="facts facts-net" data-fact="devices">
      <span className="fact-key">{s.factDevices}</span>
      {own.devices.length ? (
        <ul className="devices">
          {own.devices.map((d) => (
            <li key={d.name} data-device={d.name} data-up={d.up ? 'true' : 'false'}>
              <b className="dev-name">{d.name}</b>
              <span className={`dev-state ${d.up ? 'up' : 'down'}`}>{d.up ? 'UP' : 'DOWN'}</span>
              {d.addresses.map((a) => (
                <code key={a} className="dev-addr">
                  {a}
                </code>
              ))}
            </li>
          ))}
        </ul>
      ) : (
        <p className="fact-none">{s.factNoDevices}</p>
      )}
    </div>
  );
}

function TimeFacts({ facts, inode, full, s }: { facts: NonNullable<Facts['time']> } & Omit<Props, 'type' | 'picture'>) {
  const own = facts[String(inode)];
  if (!own) return null;
  const attrs = { 'data-fact': 'offsets', 'data-monotonic': own.monotonic, 'data-boottime': own.boottime };
  if (!full) {
    return (
      <span className="fact-line" {...attrs}>
        {own.monotonic === 0 && own.boottime === 0 ? s.factNoOffset : `${offsetText(own.monotonic)} / ${offsetText(own.boottime)}`}
      </span>
    );
  }
  return (
    <div className="facts facts-time" {...attrs}>
      <span className="fact-key">{s.factOffsets}</span>
      <dl className="offsets">
        <dt>monotonic</dt>
        <dd data-clock="monotonic">{offsetText(own.monotonic)}</dd>
        <dt>boottime</dt>
        <dd data-clock="boottime">{offsetText(own.boottime)}</dd>
      </dl>
    </div>
  );
}

function IpcFacts({ facts, inode, full, s }: { facts: NonNullable<Facts['ipc']> } & Omit<Props, 'type' | 'picture'>) {
  const own = facts[String(inode)];
  if (!own) return null;
  if (!full) {
    return (
      <span className="fact-line" data-fact="ipc">
        {own.objects.length ? s.factIpcCount(own.objects.length) : s.factIpcNone}
      </span>
    );
  }
  const max = 6;
  return (
    <div className="facts facts-ipc" data-fact="ipc">
      <span className="fact-key">{s.factIpc}</span>
      {own.objects.length ? (
        <ul className="ipc-objects">
          {own.objects.slice(0, max).map((o) => (
            <li key={`${o.kind}-${o.id}`} data-ipc={`${o.kind} ${o.key} ${o.id}`}>
              <span className={`ipc-kind ipc-${o.kind}`}>{s.ipcKind[o.kind]}</span>
              <code>{o.key}</code>
              <small>id {o.id}</small>
            </li>
          ))}
          {own.objects.length > max ? <li className="more">{s.more(own.objects.length - max)}</li> : null}
        </ul>
      ) : (
        <p className="fact-none">{s.factIpcNone}</p>
      )}
    </div>
  );
}

export function NsFacts({ type, inode, picture, full, s }: Props) {
  const facts = picture.facts;
  if (!facts) return null;
  const own = String(inode);
  switch (type) {
    case 'uts': {
      const f = facts.uts?.[own];
      if (!f) return null;
      const domain = f.domainname && f.domainname !== '(none)' ? f.domainname : null;
      return full ? (
        <div className="facts facts-uts">
          <span className="fact-key">{s.factHostname}</span>
          <b className="fact-big" data-fact="hostname">
            {f.hostname}
          </b>
          {domain ? (
            <span className="fact-sub">
              {s.factDomain}: {domain}
            </span>
          ) : null}
        </div>
      ) : (
        <span className="fact-line" data-fact="hostname">
          {f.hostname}
        </span>
      );
    }
    case 'cgroup': {
      const f = facts.cgroup?.[own];
      if (!f) return null;
      return full ? (
        <div className="facts facts-cgroup">
          <span className="fact-key">{s.factCgroupRoot}</span>
          <code className="fact-big" data-fact="cgroup-root">
            {f.root}
          </code>
        </div>
      ) : (
        <span className="fact-line" data-fact="cgroup-root">
          {f.root}
        </span>
      );
    }
    case 'user':
      return facts.user ? <UserFacts facts={facts.user} inode={inode} picture={picture} full={full} s={s} /> : null;
    case 'net':
      return facts.net ? <NetFacts facts={facts.net} inode={inode} full={full} s={s} /> : null;
    case 'time':
      return facts.time ? <TimeFacts facts={facts.time} inode={inode} full={full} s={s} /> : null;
    case 'ipc':
      return facts.ipc ? <IpcFacts facts={facts.ipc} inode={inode} full={full} s={s} /> : null;
    default:
      return null;
  }
}
