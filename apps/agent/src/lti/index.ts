// The LTI 1.3 tool in one object: the platforms of the configuration, the tool's key, the
// platforms' key sets, the login, the launch, Deep Linking and grades. The HTTP side
// (server/lti-http.ts) turns requests into its calls and its answers into pages; the portal
// activity tells it of tasks done. How to register nslab in an LMS: docs/lti.md.
import type { Outbox } from '../portal/outbox.js';
import type { Store } from '../store/index.js';
import { acceptsResourceLinks, deepLinkRef, deepLinkResponse, type DeepLinkResult } from './deep-linking.js';
import { ltiTaskDone, ScoreSender, type TaskDoneFacts } from './grades.js';
import { ToolKeys } from './keys.js';
import { PlatformKeys, verifyLaunch, type LaunchResult, type VerifiedLaunch } from './launch.js';
import { startLogin, type LoginParams, type LoginResult } from './login.js';
import type { PickerLesson } from './pages.js';
import { ltiSource, ltiSourceOrigins, type LtiPlatform } from './platforms.js';

export { ltiTaskDone } from './grades.js';
export { ltiOrigins, ltiPlatformId, ltiSource, type LtiPlatform } from './platforms.js';
export type { VerifiedLaunch } from './launch.js';
export type { PickerLesson, Refusal } from './pages.js';

export interface LtiToolOptions {
  store: Store;
  platforms: readonly LtiPlatform[];
  /** The outbox that delivers scores (the tool registers its sender on it). */
  outbox?: Outbox;
  /** For tests: how the tool reaches platforms' token and score endpoints. */
  fetch?: typeof fetch;
  /** For tests: how long after a fetch of a platform's keys an unknown kid may fetch them again. */
  jwksCooldownMs?: number;
}

export class LtiTool {
  readonly store: Store;
  readonly platforms: readonly LtiPlatform[];
  readonly keys: ToolKeys;
  readonly platformKeys: PlatformKeys;
  readonly scores: ScoreSender;
  private readonly outbox: Outbox | undefined;

  constructor(o: LtiToolOptions) {
    this.store = o.store;
    this.platforms = o.platforms;
    this.outbox = o.outbox;
    this.keys = new ToolKeys(o.store);
    this.platformKeys = new PlatformKeys({ cooldownMs: o.jwksCooldownMs });
    this.scores = new ScoreSender(o.platforms, this.keys, { fetch: o.fetch });
    if (o.outbox) this.scores.register(o.outbox);
  }

  /** The tool's public keys, as GET /lti/jwks serves them. */
  async jwks(): Promise<{ keys: unknown[] }> {
    return (await this.keys.get()).jwks();
  }

  /** The third-party initiated login: where to send the browser (the platform's auth endpoint). */
  login(params: LoginParams, toolUrl: string): Promise<LoginResult> {
    return startLogin(params, { store: this.store, platforms: this.platforms, toolUrl });
  }

  /** Verify a launch (the platform's form post to /lti/launch). */
  launch(form: Record<string, string | undefined>): Promise<LaunchResult> {
    return verifyLaunch(form, { store: this.store, platforms: this.platforms, keys: this.platformKeys });
  }

  /** The embed source of a launch's learner. */
  source(launch: VerifiedLaunch): string {
    return ltiSource(launch.platform);
  }

  /** The frame origins of an 'lti:' embed source ([] for any other, or a platform since removed). */
  origins(source: string): string[] {
    return ltiSourceOrigins(this.platforms, source);
  }

  /**
   * A resource link launch that takes grades: remember where this session's scores for the
   * lesson go, and send the score it has already (a learner who did tasks before the platform
   * asked for grades, or whose earlier score was lost).
   */
  async rememberGrades(launch: VerifiedLaunch, sessionId: string, lesson: string, tasks: string[]): Promise<void> {
    if (!launch.lineitem || !launch.sub) return;
    await this.store.lti.setLtiGradeTarget({ sessionId, lesson, platform: launch.platformId, lineitem: launch.lineitem, userSub: launch.sub });
    if (!tasks.length) return;
    const done = new Set((await this.store.progress(sessionId)).filter((t) => t.lesson === lesson).map((t) => t.task));
    const tasksDone = tasks.filter((t) => done.has(t)).length;
    if (tasksDone > 0) await ltiTaskDone(this.store, { sessionId, lesson, tasksDone, tasksTotal: tasks.length }, this.outbox);
  }

  /** A task done for the first time (the portal activity's onTaskDone): its score, if it is owed. */
  taskDone(facts: TaskDoneFacts): Promise<void> {
    return ltiTaskDone(this.store, facts, this.outbox);
  }

  acceptsResourceLinks(launch: VerifiedLaunch): boolean {
    return acceptsResourceLinks(launch);
  }

  /** The picker's reference to a verified Deep Linking request. */
  deepLinkRef(launch: VerifiedLaunch): Promise<string> {
    return deepLinkRef(launch, { store: this.store, keys: this.keys });
  }

  /** The picker's choice as a signed Deep Linking response. */
  deepLinkResponse(form: Record<string, string | undefined>, lesson: (id: string) => PickerLesson | undefined, toolUrl: string): Promise<DeepLinkResult> {
    return deepLinkResponse(form, { store: this.store, keys: this.keys, platforms: this.platforms, lesson, toolUrl });
  }
}
