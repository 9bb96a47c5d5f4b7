// What training portals keep in the store: their API keys (hashes only), their learners (one
// session each, so progress follows a learner across launches), one-time launch links (hashes
// only) and webhook endpoints. Both engines, every input checked (schema.ts).
import type { Kysely } from 'kysely';
import { StoreError } from './errors.js';
import type { Engine } from './migrations.js';
import {
  check,
  entityId,
  httpUrl,
  instant,
  keyHash,
  keyName,
  langCode,
  lessonId,
  maybeDisplayName,
  maybeHttpUrl,
  originList,
  portalUserId,
  secretValue,
  sessionId,
  sessionList,
  userSource,
  type ApiKeyTable,
  type Database,
  type LaunchTable,
  type PortalUserTable,
  type WebhookEndpointTable,
  ms,
  msOrNull,
} from './schema.js';

/** What a query module needs of the store: its database, and its way of running one operation. */
export interface Runner {
  readonly db: Kysely<Database>;
  readonly engine: Engine;
  readonly where: string;
  run<T>(op: string, fn: () => Promise<T>): Promise<T>;
}

export interface ApiKeyRow {
  id: string;
  name: string;
  keyHash: string;
  origins: string[];
  createdAt: Date;
  revokedAt: Date | null;
}

export interface PortalUserRow {
  sessionId: string;
  source: string;
  user: string;
  name: string | null;
  lesson: string;
  lang: 'en' | 'zh';
  returnUrl: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface LaunchRow {
  keyId: string;
  user: string;
  lesson: string;
  lang: 'en' | 'zh';
  name: string | null;
  returnUrl: string | null;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
}

export interface LaunchInput {
  tokenHash: string;
  keyId: string;
  user: string;
  lesson: string;
  lang: 'en' | 'zh';
  name?: string | null;
  returnUrl?: string | null;
  createdAt?: Date | number;
  expiresAt: Date | number;
}

/** useLaunch's answer: the launch (now used), or why not. */
export type UseLaunchResult = { ok: true; launch: LaunchRow } | { ok: false; why: 'unknown' | 'used' | 'expired' };

export interface WebhookEndpointRow {
  id: string;
  keyId: string;
  url: string;
  /** The signing secret (whsec_...): for the agent's deliveries only, never for a page. */
  secret: string;
  createdAt: Date;
}

export interface PortalUserInput {
  sessionId: string;
  source: string;
  user: string;
  name?: string | null;
  lesson: string;
  lang: 'en' | 'zh';
  returnUrl?: string | null;
  at?: Date | number;
}

export class PortalQueries {
  constructor(private readonly r: Runner) {}

  // --- API keys ----------------------------------------------------------------------------

  /** A new key. A name a live key has already fails with 'conflict'. */
  async createApiKey(k: { id: string; name: string; keyHash: string; origins: string[]; createdAt?: Date | number }): Promise<ApiKeyRow> {
    const op = 'createApiKey';
    const row: ApiKeyTable = {
      id: check(op, 'id', entityId, k.id),
      name: check(op, 'name', keyName, k.name),
      key_hash: check(op, 'keyHash', keyHash, k.keyHash),
      origins: JSON.stringify(check(op, 'origins', originList, k.origins)),
      created_at: check(op, 'createdAt', instant, k.createdAt ?? Date.now()),
      revoked_at: null,
    };
    return this.r.run(op, async () => {
      const inserted = await this.r.db
        .insertInto('api_key')
        .values(row)
        .onConflict((oc) => oc.doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!inserted) throw new StoreError('conflict', `${op}: a key named ${row.name} exists already (revoke it first, or pick another name)`, this.r.where);
      return toKey(row);
    });
  }

  /** The key with this hash (revoked or not: the caller says which it was). */
  async apiKeyByHash(hash: string): Promise<ApiKeyRow | undefined> {
    const h = check('apiKeyByHash', 'hash', keyHash, hash);
    return this.r.run('apiKeyByHash', async () => {
      const r = await this.r.db.selectFrom('api_key').selectAll().where('key_hash', '=', h).executeTakeFirst();
      return r && toKey(r);
    });
  }

  async apiKey(id: string): Promise<ApiKeyRow | undefined> {
    const kid = check('apiKey', 'id', entityId, id);
    return this.r.run('apiKey', async () => {
      const r = await this.r.db.selectFrom('api_key').selectAll().where('id', '=', kid).executeTakeFirst();
      return r && toKey(r);
    });
  }

  /** The live key with this name. */
  async liveApiKeyByName(name: string): Promise<ApiKeyRow | undefined> {
    const n = check('liveApiKeyByName', 'name', keyName, name);
    return this.r.run('liveApiKeyByName', async () => {
      const r = await this.r.db.selectFrom('api_key').selectAll().where('name', '=', n).where('revoked_at', 'is', null).executeTakeFirst();
      return r && toKey(r);
    });
  }

  /** Every key, revoked ones included, oldest first. */
  async listApiKeys(): Promise<ApiKeyRow[]> {
    return this.r.run('listApiKeys', async () => {
      const rows = await this.r.db.selectFrom('api_key').selectAll().orderBy('created_at').orderBy('id').execute();
      return rows.map(toKey);
    });
  }

  /** Revoke the live key with this name; undefined when there is none. */
  async revokeApiKey(name: string, at: Date | number = Date.now()): Promise<ApiKeyRow | undefined> {
    const op = 'revokeApiKey';
    const n = check(op, 'name', keyName, name);
    const t = check(op, 'at', instant, at);
    return this.r.run(op, async () => {
      const r = await this.r.db
        .updateTable('api_key')
        .set({ revoked_at: t })
        .where('name', '=', n)
        .where('revoked_at', 'is', null)
        .returningAll()
        .executeTakeFirst();
      return r && toKey(r);
    });
  }

  // --- portal users --------------------------------------------------------------------------

  /** Record (or update, at a later launch) a portal's learner and the session they have. */
  async upsertPortalUser(u: PortalUserInput): Promise<PortalUserRow> {
    const op = 'upsertPortalUser';
    const t = check(op, 'at', instant, u.at ?? Date.now());
    const row: PortalUserTable = {
      session_id: check(op, 'sessionId', sessionId, u.sessionId),
      source: check(op, 'source', userSource, u.source),
      user_id: check(op, 'user', portalUserId, u.user),
      name: check(op, 'name', maybeDisplayName, u.name),
      lesson: check(op, 'lesson', lessonId, u.lesson),
      lang: check(op, 'lang', langCode, u.lang),
      return_url: check(op, 'returnUrl', maybeHttpUrl, u.returnUrl),
      created_at: t,
      updated_at: t,
    };
    return this.r.run(op, async () => {
      const kept = await this.r.db
        .insertInto('portal_user')
        .values(row)
        .onConflict((oc) =>
          oc.column('session_id').doUpdateSet({ name: row.name, lesson: row.lesson, lang: row.lang, return_url: row.return_url, updated_at: t }),
        )
        .returningAll()
        .executeTakeFirstOrThrow();
      if (kept.source !== row.source || kept.user_id !== row.user_id) {
        throw new StoreError('conflict', `${op}: session ${row.session_id} belongs to another user`, this.r.where);
      }
      return toUser(kept);
    });
  }

  async portalUser(session: string): Promise<PortalUserRow | undefined> {
    const sid = check('portalUser', 'sessionId', sessionId, session);
    return this.r.run('portalUser', async () => {
      const r = await this.r.db.selectFrom('portal_user').selectAll().where('session_id', '=', sid).executeTakeFirst();
      return r && toUser(r);
    });
  }

  /** The portal users among these sessions (at most 1000). */
  async portalUsersOf(sessions: string[]): Promise<PortalUserRow[]> {
    const sids = [...new Set(check('portalUsersOf', 'sessions', sessionList, sessions))];
    if (!sids.length) return [];
    return this.r.run('portalUsersOf', async () => {
      const rows = await this.r.db.selectFrom('portal_user').selectAll().where('session_id', 'in', sids).execute();
      return rows.map(toUser);
    });
  }

  // --- launches ------------------------------------------------------------------------------

  async createLaunch(l: LaunchInput): Promise<LaunchRow> {
    const op = 'createLaunch';
    const row: LaunchTable = {
      token_hash: check(op, 'tokenHash', keyHash, l.tokenHash),
      key_id: check(op, 'keyId', entityId, l.keyId),
      user_id: check(op, 'user', portalUserId, l.user),
      lesson: check(op, 'lesson', lessonId, l.lesson),
      lang: check(op, 'lang', langCode, l.lang),
      name: check(op, 'name', maybeDisplayName, l.name),
      return_url: check(op, 'returnUrl', maybeHttpUrl, l.returnUrl),
      created_at: check(op, 'createdAt', instant, l.createdAt ?? Date.now()),
      expires_at: check(op, 'expiresAt', instant, l.expiresAt),
      used_at: null,
    };
    return this.r.run(op, async () => {
      await this.r.db.insertInto('launch').values(row).execute();
      return toLaunch(row);
    });
  }

  /**
   * Use a launch link: atomically, once, and only before it expires. However many requests
   * bring the same link at once, one gets `ok`.
   */
  async useLaunch(tokenHash: string, at: Date | number = Date.now()): Promise<UseLaunchResult> {
    const op = 'useLaunch';
    const h = check(op, 'tokenHash', keyHash, tokenHash);
    const t = check(op, 'at', instant, at);
    return this.r.run(op, async () => {
      const used = await this.r.db
        .updateTable('launch')
        .set({ used_at: t })
        .where('token_hash', '=', h)
        .where('used_at', 'is', null)
        .where('expires_at', '>', t)
        .returningAll()
        .executeTakeFirst();
      if (used) return { ok: true as const, launch: toLaunch(used) };
      const r = await this.r.db.selectFrom('launch').select(['used_at']).where('token_hash', '=', h).executeTakeFirst();
      return { ok: false as const, why: !r ? ('unknown' as const) : r.used_at !== null ? ('used' as const) : ('expired' as const) };
    });
  }

  /** Forget launch links that expired before `before`; returns how many. */
  async pruneLaunches(before: Date | number): Promise<number> {
    const t = check('pruneLaunches', 'before', instant, before);
    return this.r.run('pruneLaunches', async () => {
      const r = await this.r.db.deleteFrom('launch').where('expires_at', '<', t).executeTakeFirst();
      return Number(r.numDeletedRows);
    });
  }

  // --- webhook endpoints ----------------------------------------------------------------------

  async addWebhookEndpoint(e: { id: string; keyId: string; url: string; secret: string; createdAt?: Date | number }): Promise<WebhookEndpointRow> {
    const op = 'addWebhookEndpoint';
    const row: WebhookEndpointTable = {
      id: check(op, 'id', entityId, e.id),
      key_id: check(op, 'keyId', entityId, e.keyId),
      url: check(op, 'url', httpUrl, e.url),
      secret: check(op, 'secret', secretValue, e.secret),
      created_at: check(op, 'createdAt', instant, e.createdAt ?? Date.now()),
      removed_at: null,
    };
    return this.r.run(op, async () => {
      await this.r.db.insertInto('webhook_endpoint').values(row).execute();
      return toEndpoint(row);
    });
  }

  /** A key's endpoints that are not removed (every key's when `keyId` is undefined), oldest first. */
  async webhookEndpoints(keyId?: string): Promise<WebhookEndpointRow[]> {
    const kid = keyId === undefined ? undefined : check('webhookEndpoints', 'keyId', entityId, keyId);
    return this.r.run('webhookEndpoints', async () => {
      const rows = await this.r.db
        .selectFrom('webhook_endpoint')
        .selectAll()
        .where('removed_at', 'is', null)
        .$if(kid !== undefined, (q) => q.where('key_id', '=', kid!))
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return rows.map(toEndpoint);
    });
  }

  async webhookEndpoint(id: string): Promise<WebhookEndpointRow | undefined> {
    const eid = check('webhookEndpoint', 'id', entityId, id);
    return this.r.run('webhookEndpoint', async () => {
      const r = await this.r.db.selectFrom('webhook_endpoint').selectAll().where('id', '=', eid).where('removed_at', 'is', null).executeTakeFirst();
      return r && toEndpoint(r);
    });
  }

  /** Stop delivering to an endpoint. False when there is no such endpoint (or it was removed). */
  async removeWebhookEndpoint(id: string, at: Date | number = Date.now()): Promise<boolean> {
    const eid = check('removeWebhookEndpoint', 'id', entityId, id);
    const t = check('removeWebhookEndpoint', 'at', instant, at);
    return this.r.run('removeWebhookEndpoint', async () => {
      const r = await this.r.db.updateTable('webhook_endpoint').set({ removed_at: t }).where('id', '=', eid).where('removed_at', 'is', null).executeTakeFirst();
      return r.numUpdatedRows > 0n;
    });
  }
}

function toKey(r: ApiKeyTable): ApiKeyRow {
  const origins: unknown = JSON.parse(r.origins);
  return {
    id: r.id,
    name: r.name,
    keyHash: r.key_hash,
    origins: Array.isArray(origins) ? origins.filter((o): o is string => typeof o === 'string') : [],
    createdAt: ms(r.created_at),
    revokedAt: msOrNull(r.revoked_at),
  };
}

function toUser(r: PortalUserTable): PortalUserRow {
  return {
    sessionId: r.session_id,
    source: r.source,
    user: r.user_id,
    name: r.name,
    lesson: r.lesson,
    lang: r.lang === 'zh' ? 'zh' : 'en',
    returnUrl: r.return_url,
    createdAt: ms(r.created_at),
    updatedAt: ms(r.updated_at),
  };
}

function toLaunch(r: LaunchTable): LaunchRow {
  return {
    keyId: r.key_id,
    user: r.user_id,
    lesson: r.lesson,
    lang: r.lang === 'zh' ? 'zh' : 'en',
    name: r.name,
    returnUrl: r.return_url,
    createdAt: ms(r.created_at),
    expiresAt: ms(r.expires_at),
    usedAt: msOrNull(r.used_at),
  };
}

function toEndpoint(r: WebhookEndpointTable): WebhookEndpointRow {
  return { id: r.id, keyId: r.key_id, url: r.url, secret: r.secret, createdAt: ms(r.created_at) };
}
