// What the LTI 1.3 tool keeps: each login's state and nonce (used once, before it expires) and,
// per learner and lesson, where the platform wants its grades.
import { z } from 'zod';
import { check, httpUrl, instant, lessonId, opaqueToken, outboxTarget, sessionId, type LtiGradeTargetTable, type LtiLoginTable, ms } from './schema.js';
import type { Runner } from './portal.js';

export interface LtiLoginRow {
  state: string;
  nonce: string;
  platform: string;
  targetLinkUri: string | null;
  expiresAt: Date;
}

export interface LtiGradeTargetRow {
  sessionId: string;
  lesson: string;
  platform: string;
  lineitem: string;
  userSub: string;
  updatedAt: Date;
}

/** An LMS user's `sub`: at most 255 characters (LTI core), no control characters. */
const userSub = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^\p{Cc}\p{Cs}]*$/u, 'no control characters');

export class LtiQueries {
  constructor(private readonly r: Runner) {}

  async createLtiLogin(l: {
    state: string;
    nonce: string;
    platform: string;
    expiresAt: Date | number;
    targetLinkUri?: string | null;
    at?: Date | number;
  }): Promise<void> {
    const op = 'createLtiLogin';
    const row: LtiLoginTable = {
      state: check(op, 'state', opaqueToken, l.state),
      nonce: check(op, 'nonce', opaqueToken, l.nonce),
      platform: check(op, 'platform', outboxTarget, l.platform),
      target_link_uri: l.targetLinkUri == null ? null : check(op, 'targetLinkUri', httpUrl, l.targetLinkUri),
      created_at: check(op, 'at', instant, l.at ?? Date.now()),
      expires_at: check(op, 'expiresAt', instant, l.expiresAt),
      used_at: null,
    };
    await this.r.run(op, async () => void (await this.r.db.insertInto('lti_login').values(row).execute()));
  }

  /** Take a login's state: once, and only before it expires; undefined otherwise. */
  async consumeLtiLogin(state: string, now: Date | number = Date.now()): Promise<LtiLoginRow | undefined> {
    const op = 'consumeLtiLogin';
    const parsed = opaqueToken.safeParse(state);
    if (!parsed.success) return undefined; // a forged state is simply not one of ours
    const t = check(op, 'now', instant, now);
    return this.r.run(op, async () => {
      const r = await this.r.db
        .updateTable('lti_login')
        .set({ used_at: t })
        .where('state', '=', parsed.data)
        .where('used_at', 'is', null)
        .where('expires_at', '>', t)
        .returningAll()
        .executeTakeFirst();
      return r && { state: r.state, nonce: r.nonce, platform: r.platform, targetLinkUri: r.target_link_uri, expiresAt: ms(r.expires_at) };
    });
  }

  /** Forget logins that expired before `before`. */
  async pruneLtiLogins(before: Date | number): Promise<number> {
    const t = check('pruneLtiLogins', 'before', instant, before);
    return this.r.run('pruneLtiLogins', async () =>
      Number((await this.r.db.deleteFrom('lti_login').where('expires_at', '<', t).executeTakeFirst()).numDeletedRows),
    );
  }

  async setLtiGradeTarget(g: { sessionId: string; lesson: string; platform: string; lineitem: string; userSub: string; at?: Date | number }): Promise<void> {
    const op = 'setLtiGradeTarget';
    const row: LtiGradeTargetTable = {
      session_id: check(op, 'sessionId', sessionId, g.sessionId),
      lesson_id: check(op, 'lesson', lessonId, g.lesson),
      platform: check(op, 'platform', outboxTarget, g.platform),
      lineitem: check(op, 'lineitem', httpUrl, g.lineitem),
      user_sub: check(op, 'userSub', userSub, g.userSub),
      updated_at: check(op, 'at', instant, g.at ?? Date.now()),
    };
    await this.r.run(op, async () => {
      await this.r.db
        .insertInto('lti_grade_target')
        .values(row)
        .onConflict((oc) =>
          oc
            .columns(['session_id', 'lesson_id'])
            .doUpdateSet({ platform: row.platform, lineitem: row.lineitem, user_sub: row.user_sub, updated_at: row.updated_at }),
        )
        .execute();
    });
  }

  async ltiGradeTarget(session: string, lesson: string): Promise<LtiGradeTargetRow | undefined> {
    const sid = check('ltiGradeTarget', 'sessionId', sessionId, session);
    const lid = check('ltiGradeTarget', 'lesson', lessonId, lesson);
    return this.r.run('ltiGradeTarget', async () => {
      const r = await this.r.db.selectFrom('lti_grade_target').selectAll().where('session_id', '=', sid).where('lesson_id', '=', lid).executeTakeFirst();
      return (
        r && { sessionId: r.session_id, lesson: r.lesson_id, platform: r.platform, lineitem: r.lineitem, userSub: r.user_sub, updatedAt: ms(r.updated_at) }
      );
    });
  }
}
