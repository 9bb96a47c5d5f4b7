// Read-only links: a lab's owner mints a token that lets anyone holding it watch the lab (never
// type into it). Tokens are signed with a key that lives as long as the agent, name the lab and a
// per-lab nonce; revoking a lab's links replaces its nonce.
//
// Several agents (docs/router.md): an instructor's dashboard on one agent may watch a learner's
// lab on another. Its agent mints a short-lived link with the cluster key instead (`mintAcross`):
// its nonce is `~` and its expiry (never a local nonce, which is base64url), and any agent of the cluster checks it; it lets a viewer in
// until it expires (a viewer already in stays, as with any link, until the lab's links are revoked).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';

/** Emits `revoked` (lab id): viewers who came in through the old links must leave. */
export class Shares extends EventEmitter<{ revoked: [lab: string] }> {
  private readonly key = randomBytes(32);
  private readonly nonces = new Map<string, string>();

  /** `clusterKey`: the key the agents share, for links minted on one agent for a lab on another. */
  constructor(private readonly clusterKey: Buffer | null = null) {
    super();
    this.setMaxListeners(0);
  }

  /** A link to a lab on another agent of the cluster, valid for `ttlMs`; null without a cluster key. */
  mintAcross(lab: string, ttlMs = 10 * 60_000): string | null {
    if (!this.clusterKey) return null;
    const body = `${lab}.~${(Date.now() + ttlMs).toString(36)}`;
    return `${body}.${this.signAcross(body)}`;
  }

  private signAcross(body: string): string {
    return createHmac('sha256', this.clusterKey!).update(`view-across:${body}`).digest('base64url');
  }

  mint(lab: string): string {
    let nonce = this.nonces.get(lab);
    if (!nonce) this.nonces.set(lab, (nonce = randomBytes(9).toString('base64url')));
    const body = `${lab}.${nonce}`;
    return `${body}.${this.sign(body)}`;
  }

  revoke(lab: string) {
    this.nonces.delete(lab);
    this.emit('revoked', lab);
  }

  /** The lab a token grants, or null when it is forged, revoked or for a closed lab. */
  verify(token: string): string | null {
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const [lab, nonce, sig] = parts as [string, string, string];
    if (nonce.startsWith('~')) {
      if (!this.clusterKey) return null;
      const want = Buffer.from(this.signAcross(`${lab}.${nonce}`));
      const got = Buffer.from(sig);
      if (got.length !== want.length || !timingSafeEqual(got, want)) return null;
      const expires = Number.parseInt(nonce.slice(1), 36);
      return /^~[0-9a-z]{1,12}$/.test(nonce) && expires > Date.now() ? lab : null;
    }
    const want = Buffer.from(this.sign(`${lab}.${nonce}`));
    const got = Buffer.from(sig);
    if (got.length !== want.length || !timingSafeEqual(got, want)) return null;
    return this.nonces.get(lab) === nonce ? lab : null;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(`view:${body}`).digest('base64url');
  }
}
