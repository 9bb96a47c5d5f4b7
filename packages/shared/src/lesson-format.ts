// The format of a lesson file (content/lessons/<lang>/<id>.md): YAML front matter, then Markdown.
// See docs/lesson-format.md. Pure schemas: safe to import anywhere (no file system).
import { z } from 'zod';
import { NAMESPACE_TYPES } from './namespaces.js';
import { lessonIdSchema, paneNameSchema } from './names.js';

export const LANGS = ['en', 'zh'] as const;
export type Lang = (typeof LANGS)[number];

const paneName = paneNameSchema;

/** Run `run` with sh -c in a pane's namespaces; every expectation given must hold. */
export const CheckCondition = z
  .object({
    pane: paneName,
    run: z.string().min(1),
    /** Expected exit code (default 0). */
    exitCode: z.number().int().optional(),
    /** Trimmed stdout equals this. */
    stdout: z.string().optional(),
    /** Trimmed stdout differs from this. */
    stdoutNot: z.string().optional(),
    /** stdout matches this regular expression. */
    match: z.string().optional(),
    /** Trimmed stdout differs from that of another command (e.g. in another pane). */
    differsFrom: z
      .object({ pane: paneName, run: z.string().min(1) })
      .strict()
      .optional(),
    /** Trimmed stdout equals that of another command. */
    sameAs: z
      .object({ pane: paneName, run: z.string().min(1) })
      .strict()
      .optional(),
  })
  .strict();
export type CheckCondition = z.infer<typeof CheckCondition>;

export const TaskDef = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9-]{0,47}$/, 'a task id is a lowercase word with dashes'),
    /** The step (a `## Heading {#step-id}`) this task belongs to. */
    step: z.string(),
    title: z.string().min(1),
    check: z.object({ all: z.array(CheckCondition).min(1) }).strict(),
  })
  .strict();
export type TaskDef = z.infer<typeof TaskDef>;

export const PaneSpec = z
  .object({
    name: paneName,
    title: z.string().optional(),
    unshare: z.array(z.enum(NAMESPACE_TYPES)),
    timeOffsets: z.object({ monotonic: z.number().int(), boottime: z.number().int() }).strict().optional(),
    /**
     * The pane's shell starts in a cgroup of the lab's delegated subtree (`pane-<name>` in it): a
     * cgroup subtree the lab's root may manage, mounted at /sys/fs/cgroup in the lab. A lab gets
     * the subtree when one of its lesson's panes asks for it. See docs/lesson-format.md.
     */
    delegatedCgroup: z.boolean().optional(),
  })
  .strict();

export const LessonFrontMatter = z
  .object({
    id: lessonIdSchema,
    lang: z.enum(LANGS),
    order: z.number().int(),
    title: z.string().min(1),
    summary: z.string().min(1),
    panes: z
      .array(PaneSpec)
      .min(2)
      .refine((p) => p[0]?.name === 'host' && p[1]?.name === 'container', 'the first two panes are host and container'),
    tasks: z.array(TaskDef).min(1),
  })
  .strict();
export type LessonFrontMatter = z.infer<typeof LessonFrontMatter>;

export interface LessonStep {
  id: string;
  title: string;
  /** The step's Markdown body (without its heading). */
  markdown: string;
}

export interface LessonDoc extends LessonFrontMatter {
  file: string;
  /** Markdown before the first step. */
  intro: string;
  steps: LessonStep[];
}

/** Tasks as the agent reports them. */
export const TaskStatus = z.object({ id: z.string(), status: z.enum(['done', 'pending']), detail: z.string().optional() });
export type TaskStatus = z.infer<typeof TaskStatus>;
