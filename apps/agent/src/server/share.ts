// Read-only links: a lab's owner mints a token that lets anyone holding it watch the lab (never
// type into it). Tokens are signed with a key that lives as long as the agent, name the lab and a
// per-lab nonce; revoking a lab's links replaces its nonce.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';

/** Emits `revoked` (lab id): viewers who came in through the old links must leave. */
export class Shares extends EventEmitter<{ revoked: [lab: string] }> {
  private readonly key = randomBytes(32);
  private readonly nonces = new Map<string, string>();

  constructor() {
    super();
    this.setMaxListeners(0);
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
    const want = Buffer.from(this.sign(`${lab}.${nonce}`));
    const got = Buffer.from(sig);
    if (got.length !== want.length || !timingSafeEqual(got, want)) return null;
    return this.nonces.get(lab) === nonce ? lab : null;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(`view:${body}`).digest('base64url');
  }
}
