// An agent for tests: in-process, on a random port, with an instance name, state directory and id
// range of its own so it never touches a developer's running agent.
import { before, after } from 'node:test';
import { loadConfig, type AgentConfig } from '../../apps/agent/src/config.ts';
import { startAgent, type RunningAgent } from '../../apps/agent/src/server/agent.ts';
import type { Lab } from '../../apps/agent/src/sandbox/lab.ts';
import type { Pane } from '../../apps/agent/src/sandbox/pane.ts';

// Two test runs on one host (two checkouts) keep apart with NSLAB_TEST_INSTANCE / NSLAB_TEST_ID_BASE.
export const TEST_INSTANCE = process.env.NSLAB_TEST_INSTANCE || 'nslabtest';
export const TEST_ID_BASE = Number(process.env.NSLAB_TEST_ID_BASE) || 200_000_000;

export function testConfig(overrides: Partial<AgentConfig> = {}): AgentConfig {
  return loadConfig({
    instance: TEST_INSTANCE,
    stateDir: `/run/${TEST_INSTANCE}`,
    dataDir: `/run/${TEST_INSTANCE}/data`,
    idBase: TEST_ID_BASE,
    maxLabs: 64,
    warmLabs: 0,
    warmPerLesson: 0,
    port: 0,
    web: false,
    token: 'test-token-123',
    shutdownNoticeMs: 0,
    ...overrides,
  });
}

export function startTestAgent(overrides: Partial<AgentConfig> = {}): Promise<RunningAgent> {
  return startAgent(testConfig(overrides), { quiet: true });
}

/**
 * A second agent with settings of its own (short timeouts, small limits), apart from the file's
 * agent: its own instance name and id range. `n` (1 to 18) must be unique across test files.
 */
export function sideAgent(n: number, overrides: Partial<AgentConfig> = {}): Promise<RunningAgent> {
  if (!Number.isInteger(n) || n < 1 || n > 18) throw new Error('side agents are numbered 1 to 18');
  const instance = `${TEST_INSTANCE}-s${n}`;
  return startTestAgent({
    instance,
    stateDir: `/run/${instance}`,
    dataDir: `/run/${instance}/data`,
    maxLabs: 8,
    idBase: TEST_ID_BASE + (64 + 8 * n) * 65536,
    ...overrides,
  });
}

/** Run a command in a pane and return its output as text; fails the test on a spawn error. */
export async function run(lab: Lab, pane: string, script: string): Promise<{ code: number | null; out: string; err: string }> {
  const p = lab.pane(pane);
  if (!p) throw new Error(`no pane ${pane}`);
  const r = await lab.exec(p, ['/bin/sh', '-c', script]);
  return { code: r.exitCode, out: Buffer.from(r.stdout, 'base64').toString(), err: Buffer.from(r.stderr, 'base64').toString() };
}

/** Type into a pane's terminal and wait until its screen output contains `until`. */
export async function typeAndWait(pane: Pane, input: string, until: RegExp, timeoutMs = 10_000): Promise<string> {
  let seen = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (until.test(seen)) {
        cleanup();
        resolve(seen);
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`pane ${pane.name}: no ${until} within ${timeoutMs} ms; saw: ${JSON.stringify(seen.slice(-500))}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      pane.off('data', onData);
    };
    pane.on('data', onData);
    pane.write(input);
  });
}

/** Wait until a pane's shell has printed its first prompt. */
export async function waitForPrompt(pane: Pane, timeoutMs = 10_000): Promise<void> {
  await typeAndWait(pane, 'echo rea""dy\n', /ready/, timeoutMs);
}

/**
 * One test agent for a whole file (started before its tests, stopped after), unless `skip`.
 * Returns a getter: the agent exists once `before` has run.
 */
export function useTestAgent(skip: false | string, overrides: Partial<AgentConfig> = {}): () => RunningAgent {
  let agent: RunningAgent | undefined;
  before(async () => {
    if (!skip) agent = await startTestAgent(overrides);
  });
  after(async () => {
    await agent?.close();
  });
  return () => agent!;
}
