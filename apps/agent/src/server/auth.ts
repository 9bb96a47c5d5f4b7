// The agent's token: NSLAB_TOKEN if set, else a random one written where only root can read it.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';

export function setupToken(stateDir: string, fromEnv: string | null): { token: string; file: string | null } {
  mkdirSync(stateDir, { recursive: true, mode: 0o711 });
  chmodSync(stateDir, 0o711);
  if (fromEnv) return { token: fromEnv, file: null };
  const token = randomBytes(24).toString('base64url');
  const file = join(stateDir, 'token');
  writeFileSync(file, token + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, file };
}

export function tokenMatches(expected: string, given: string | undefined | null): boolean {
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function bearer(header: string | undefined): string | null {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return m ? m[1]! : null;
}
