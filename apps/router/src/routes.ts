// What a request names, so that it reaches the agent holding that lab. Where a lab id travels:
//   WebSocket   /api/ws?v=N&lab=<id>        the page's lab (lib/socket.ts), or a read-only link's
//                                           lab (lib/watch.ts takes it from the token's first part)
//   portal API  /api/v1/labs/<id>, /api/v1/labs/<id>/extend
//   recordings  /api/casts/<workshop>/<seat>/<id>-<pane>.cast?exp=..&sig=..  (files on the lab's agent)
//   share links <id>.<nonce>.<sig>, in a page's fragment (never sent) or a query value
// Rather than one pattern per route (which would drift as routes are added), every 30-character
// run of lowercase letters and digits in the path and the query values is a candidate, and only
// one whose signature the cluster key verifies counts: anything else is not a lab id (a guess has
// a chance of 36^-12). Only `lab=` says outright "this is a lab id": a forged one there is refused.
import { CLUSTER_LAB_ID_CHARS, labIdTag } from '@nslab/shared/cluster';

export type Target =
  /** Names no lab: a new lab's WebSocket (placed), or any other request (any agent). */
  | { kind: 'none' }
  | { kind: 'lab'; id: string; tag: string }
  /** `lab=` holds something this cluster did not sign. */
  | { kind: 'forged' };

function parse(url: string): URL | null {
  try {
    return new URL(url, 'http://router.invalid');
  } catch {
    return null;
  }
}

function named(key: Buffer, id: string): Target {
  const tag = labIdTag(key, id);
  return tag === null ? { kind: 'forged' } : { kind: 'lab', id, tag };
}

/** The lab a WebSocket asks for (`lab=`), if any. */
export function wsTarget(key: Buffer, url: string): Target {
  const u = parse(url);
  if (!u) return { kind: 'forged' };
  const lab = u.searchParams.get('lab');
  if (lab === null || lab === '') return { kind: 'none' };
  return named(key, lab);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The lab a plain HTTP request names, if any. */
export function httpTarget(key: Buffer, url: string): Target {
  const u = parse(url);
  if (!u) return { kind: 'none' };
  const lab = u.searchParams.get('lab');
  if (lab !== null && lab !== '') return named(key, lab);
  const texts = [safeDecode(u.pathname), ...u.searchParams.values()];
  for (const text of texts) {
    for (const run of text.match(/[a-z0-9]+/g) ?? []) {
      if (run.length !== CLUSTER_LAB_ID_CHARS) continue;
      const tag = labIdTag(key, run);
      if (tag !== null) return { kind: 'lab', id: run, tag };
    }
  }
  return { kind: 'none' };
}
