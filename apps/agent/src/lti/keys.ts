// The tool's own RS256 key pair: made on the first start that needs it, kept in the store (as a
// private JWK, so every agent sharing a database signs with the same key), published at
// GET /lti/jwks. It signs what the tool sends to platforms: Deep Linking responses and the
// client assertions that buy an access token for grades, and the tool's own deep-link
// references. The private half never leaves this module: no page, no log, no answer shows it.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { importJWK, jwtVerify, SignJWT, type CryptoKey, type JWK, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { z } from 'zod';
import type { Store } from '../store/index.js';

export const TOOL_KEY_SECRET = 'lti-tool-key';
const ALG = 'RS256';

const b64url = z.string().regex(/^[A-Za-z0-9_-]+$/);
const PrivateRsaJwk = z.looseObject({
  kty: z.literal('RSA'),
  kid: z.string().min(1).max(128),
  n: b64url,
  e: b64url,
  d: b64url,
  p: b64url,
  q: b64url,
  dp: b64url,
  dq: b64url,
  qi: b64url,
});

/** A public key as the JWKS lists it. */
export interface PublicJwk {
  kty: 'RSA';
  kid: string;
  alg: typeof ALG;
  use: 'sig';
  n: string;
  e: string;
}

/** RFC 7638: the SHA-256 thumbprint of an RSA key's required members, base64url. */
export function rsaThumbprint(jwk: { e: string; n: string }): string {
  return createHash('sha256')
    .update(JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n }))
    .digest('base64url');
}

/** A fresh 2048-bit RS256 key pair as a private JWK with its kid (its thumbprint), as text. */
export function newToolKey(): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK & { n: string; e: string };
  return JSON.stringify({ ...jwk, kid: rsaThumbprint(jwk), alg: ALG, use: 'sig' });
}

export class ToolKey {
  private constructor(
    readonly kid: string,
    readonly publicJwk: PublicJwk,
    private readonly privateKey: CryptoKey,
    private readonly publicKey: CryptoKey,
  ) {}

  static async fromText(text: string): Promise<ToolKey> {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new Error(`the stored LTI tool key (secret ${TOOL_KEY_SECRET}) is not JSON`);
    }
    const parsed = PrivateRsaJwk.safeParse(raw);
    if (!parsed.success) throw new Error(`the stored LTI tool key (secret ${TOOL_KEY_SECRET}) is not an RSA private JWK`);
    const k = parsed.data;
    const publicJwk: PublicJwk = { kty: 'RSA', kid: k.kid, alg: ALG, use: 'sig', n: k.n, e: k.e };
    const privateKey = (await importJWK({ kty: 'RSA', n: k.n, e: k.e, d: k.d, p: k.p, q: k.q, dp: k.dp, dq: k.dq, qi: k.qi }, ALG)) as CryptoKey;
    const publicKey = (await importJWK({ kty: 'RSA', n: k.n, e: k.e }, ALG)) as CryptoKey;
    return new ToolKey(k.kid, publicJwk, privateKey, publicKey);
  }

  /** The JSON Web Key Set platforms fetch to verify what the tool signed. */
  jwks(): { keys: PublicJwk[] } {
    return { keys: [this.publicJwk] };
  }

  /** A JWT signed by the tool, valid from now for `ttlS` seconds. */
  sign(payload: JWTPayload, ttlS: number, typ = 'JWT', now = Date.now()): Promise<string> {
    const iat = Math.floor(now / 1000);
    return new SignJWT(payload)
      .setProtectedHeader({ alg: ALG, kid: this.kid, typ })
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlS)
      .sign(this.privateKey);
  }

  /** Verify a JWT the tool signed itself (a deep-link reference). Throws when it is not one. */
  async verifyOwn(token: string, options: JWTVerifyOptions): Promise<JWTPayload> {
    return (await jwtVerify(token, this.publicKey, { algorithms: [ALG], ...options })).payload;
  }
}

/** The tool's key, read from (or made in) the store once, when first needed. */
export class ToolKeys {
  private loading: Promise<ToolKey> | null = null;

  constructor(private readonly store: Store) {}

  get(): Promise<ToolKey> {
    if (!this.loading) {
      const loading = this.store.ensureSecret(TOOL_KEY_SECRET, newToolKey).then((text) => ToolKey.fromText(text));
      // A store that failed now may answer later: do not keep the failure.
      loading.catch(() => {
        if (this.loading === loading) this.loading = null;
      });
      this.loading = loading;
    }
    return this.loading;
  }
}
