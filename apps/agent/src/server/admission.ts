// May this client open one more lab? The per-address cap, and the rates per browser session and
// per address, each with a clear "come back later". The token holder is not limited here.
import type { LabManager } from '../sandbox/labs.js';
import { LimitError } from '../sandbox/labs.js';
import type { KeyedBuckets } from './rate.js';
import { ClientError } from './errors.js';

export interface AdmissionContext {
  manager: LabManager;
  opensPerSession: KeyedBuckets;
  opensPerAddress: KeyedBuckets;
}

/** Throws LimitError or ClientError('rate-limited') when `owner` from `address` may not open a lab now. */
export function admitOpen(ctx: AdmissionContext, owner: string | null, address: string) {
  const { manager } = ctx;
  const cap = manager.config.labsPerAddress;
  const mine = owner ? manager.list().filter((l) => l.owner === owner).length : 0;
  const here = manager.list().filter((l) => l.address === address).length;
  // A session at its own cap replaces its oldest lab, so it does not add one here.
  if (cap > 0 && here >= cap && mine < manager.config.labsPerSession) {
    throw new LimitError(`${here} labs are already open from your address; close one, or come back later`);
  }
  const checks: Array<[KeyedBuckets, string]> = [[ctx.opensPerAddress, address]];
  if (owner) checks.unshift([ctx.opensPerSession, owner]);
  for (const [buckets, key] of checks) {
    const { ok, retryInS } = buckets.take(key);
    if (!ok) throw new ClientError('rate-limited', `too many labs opened from here; come back in ${retryInS} s`);
  }
}
