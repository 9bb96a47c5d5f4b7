// Where the agent is and how to authenticate: NSLAB_URL and NSLAB_TOKEN (or the token file).
import { readFile } from 'node:fs/promises';
import { WS_PATH } from '@nslab/shared';
import { CliError } from './errors.js';

export const DEFAULT_URL = 'http://127.0.0.1:3000';
export const DEFAULT_TOKEN_FILE = '/run/nslab/token';

export type Env = Record<string, string | undefined>;

/**
 * The WebSocket URL for an agent base URL: http -> ws, https -> wss, path /api/ws. A base path is
 * kept (an agent behind a proxy at https://host/nslab/ is reached at wss://host/nslab/api/ws); a
 * URL that already ends in /api/ws is used as it is. A bare host:port means http.
 */
export function agentWsUrl(base: string): string {
  const raw = base.trim();
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new CliError(`NSLAB_URL is not a valid URL: '${base}' (expected something like ${DEFAULT_URL})`);
  }
  switch (url.protocol) {
    case 'http:':
    case 'ws:':
      url.protocol = 'ws:';
      break;
    case 'https:':
    case 'wss:':
      url.protocol = 'wss:';
      break;
    default:
      throw new CliError(`NSLAB_URL must be an http:// or https:// URL, not '${base}'`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = path.endsWith(WS_PATH) ? path : `${path}${WS_PATH}`;
  url.hash = '';
  return url.toString();
}

export interface TokenLookup {
  token?: string;
  /** Set when no token was found: how to get one. */
  hint?: string;
}

export function noTokenHint(tokenFile: string, state: 'missing' | 'empty' | 'unreadable'): string {
  const where = {
    missing: `NSLAB_TOKEN is not set and ${tokenFile} does not exist`,
    empty: `NSLAB_TOKEN is not set and ${tokenFile} is empty`,
    unreadable: `NSLAB_TOKEN is not set and this user cannot read ${tokenFile}`,
  }[state];
  return (
    `no agent token: ${where}. The agent writes its token to ${tokenFile} when it starts; ` +
    `run nslab as a user that can read that file, or set NSLAB_TOKEN, e.g. export NSLAB_TOKEN="$(sudo cat ${tokenFile})"`
  );
}

/** NSLAB_TOKEN, else the token file. No token is not an error here: the agent may not need one. */
export async function lookupToken(env: Env, tokenFile = DEFAULT_TOKEN_FILE): Promise<TokenLookup> {
  const fromEnv = env.NSLAB_TOKEN?.trim();
  if (fromEnv) return { token: fromEnv };
  try {
    const fromFile = (await readFile(tokenFile, 'utf8')).trim();
    if (fromFile) return { token: fromFile };
    return { hint: noTokenHint(tokenFile, 'empty') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { hint: noTokenHint(tokenFile, code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'unreadable') };
  }
}
