// Operating the agent: the configuration file (checked, under the environment), /metrics, the
// allowed origins, and a shutdown that tells the labs before closing them.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, readConfigFile, exampleYaml, SETTINGS } from '../../apps/agent/src/config.ts';
import { sideAgent, waitForPrompt } from '../helpers/agent.ts';
import { TestClient } from '../helpers/ws.ts';
import { rootOrSkip } from '../helpers/env.ts';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';

const skip = rootOrSkip();

/** The directories configFile made, removed when the file's tests are done. */
const made: string[] = [];
after(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'nslab-config-'));
  made.push(dir);
  const file = join(dir, 'config.yaml');
  writeFileSync(file, text);
  return file;
}

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  }
}

test('settings are described once: the example file and the README say what the table says', () => {
  const path = join(REPO_ROOT, 'deploy', 'nslab.example.yaml');
  assert.equal(readFileSync(path, 'utf8'), exampleYaml(), 'deploy/nslab.example.yaml is exampleYaml() of apps/agent/src/config.ts (write it anew from there)');
  // It is a valid file, and using it as it is changes nothing but the paths.
  const file = readConfigFile(path);
  const noEnv = Object.fromEntries(SETTINGS.map((st) => [st.env, undefined]));
  assert.deepEqual(
    withEnv(noEnv, () => loadConfig({}, file)),
    withEnv(noEnv, () => loadConfig({}, {})),
  );
  // Every variable the README's table names exists, with the default the table has.
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  let rows = 0;
  for (const line of readme.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 4 || !/^`(NSLAB_|PORT|HOST|LOG_LEVEL)/.test(cells[1]!)) continue;
    const envs = [...cells[1]!.matchAll(/`([A-Z_]+)(=[^`]*)?`/g)].map((m) => m[1]!);
    const defaults = [...cells[2]!.matchAll(/`([^`]*)`/g)].map((m) => m[1]!);
    for (const env of envs)
      assert.ok(
        SETTINGS.some((st) => st.env === env),
        `README names ${env}, which is no setting`,
      );
    if (defaults.length !== envs.length) continue;
    envs.forEach((env, i) => {
      const st = SETTINGS.find((x) => x.env === env)!;
      if (st.default === null) return; // derived (the README says from what)
      assert.equal(defaults[i], String(st.default), `README: the default of ${env}`);
      rows++;
    });
  }
  assert.ok(rows >= 15, `README rows checked: ${rows}`);
  // Wrong values from the environment stop the agent with the variable and the reason.
  for (const [env, value, want] of [
    ['NSLAB_MAX_LABS', '-1', /NSLAB_MAX_LABS: .*>=1 \(got "-1"\)/],
    ['NSLAB_WEB', 'maybe', /NSLAB_WEB must be 1 or 0/],
    ['NSLAB_ALLOWED_HOSTS', 'ok.example,bad host!', /NSLAB_ALLOWED_HOSTS: "host!" a host name/],
    ['NSLAB_INSTANCE', 'Bad Name', /NSLAB_INSTANCE: a short lowercase name/],
  ] as const) {
    assert.throws(() => withEnv({ [env]: value }, () => loadConfig({}, {})), want, env);
  }
});

test('configuration: file under the environment under the caller; mistakes name the key', () => {
  const file = readConfigFile(
    configFile(`
port: 8080
labs:
  max: 40
  idleSeconds: 600
limits:
  memoryMb: 256
allowedOrigins: [https://portal.example]
`),
  );
  const c = withEnv(
    { PORT: '9090', NSLAB_MAX_LABS: undefined, NSLAB_IDLE_S: undefined, NSLAB_LAB_MEMORY_MB: undefined, NSLAB_ALLOWED_ORIGINS: undefined },
    () => loadConfig({ warmLabs: 0 }, file),
  );
  assert.equal(c.port, 9090, 'the environment wins over the file');
  assert.equal(c.maxLabs, 40);
  assert.equal(c.idleMs, 600_000);
  assert.equal(c.limits.memoryMb, 256);
  assert.equal(c.limits.pids, 256, 'a default where the file says nothing');
  assert.equal(c.warmLabs, 0, 'the caller wins over both');
  assert.deepEqual(c.allowedOrigins, ['https://portal.example']);

  const bad: Array<[string, RegExp]> = [
    ['port: eighty\n', /port: .*number/i],
    ['labs:\n  maks: 3\n', /labs: unknown key maks/],
    ['colour: blue\n', /unknown key colour/],
    ['allowedOrigins: ["https://x.example/path"]\n', /allowedOrigins.0: scheme:\/\/host\[:port\], no path/],
    ['limits:\n  pids: 0\n', /limits.pids/],
    ['port: [1\n', /not valid YAML/],
  ];
  for (const [text, want] of bad) {
    const path = configFile(text);
    assert.throws(
      () => readConfigFile(path),
      (err: Error) => err.message.startsWith(path) && want.test(err.message),
      text,
    );
  }
  assert.throws(() => readConfigFile('/nonexistent/nslab.yaml'), /cannot read the configuration file \/nonexistent\/nslab.yaml/);
  assert.throws(() => withEnv({ NSLAB_MAX_LABS: 'many' }, () => loadConfig({}, {})), /NSLAB_MAX_LABS must be a number, got "many"/);
});

test('/metrics: Prometheus text with nslab_ names, for the token holder only', { skip }, async () => {
  const agent = await sideAgent(10);
  try {
    const c = await TestClient.connect(agent.url, agent.token);
    const id = (await c.request({ type: 'open', lesson: 'uts' })).data.id as string;
    await c.request({ type: 'attach', lab: id, pane: 'host', cols: 80, rows: 24 });
    await waitForPrompt(agent.manager.get(id)!.pane('host')!);
    await c.request({ type: 'input', lab: id, pane: 'host', data: 'echo hi\n' });
    await c.request({ type: 'open', lesson: 'nope' });

    assert.equal((await fetch(`${agent.url}/metrics`)).status, 401);
    assert.equal((await fetch(`${agent.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    const res = await fetch(`${agent.url}/metrics`, { headers: { authorization: `Bearer ${agent.token}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.equal(value('nslab_labs_open'), 1);
    assert.equal(value('nslab_panes_running'), 2);
    assert.equal(value('nslab_connections'), 1);
    assert.ok(value('nslab_output_bytes_total') > 0);
    assert.equal(value('nslab_input_bytes_total'), 'echo hi\n'.length);
    assert.match(text, /^nslab_labs_opened_total\{lesson="uts"\} 1$/m);
    assert.match(text, /^nslab_lab_open_seconds_count 1$/m);
    assert.match(text, /^nslab_pane_spawn_seconds_count 2$/m);
    assert.match(text, /^nslab_errors_total\{code="unknown-lesson"\} 1$/m);
    assert.match(text, /^nslab_process_resident_memory_bytes \d+/m);
    assert.match(text, /^nslab_nodejs_eventloop_lag_p99_seconds /m);
    const names = [...text.matchAll(/^([a-z_]+)(?:\{| )/gm)].map((m) => m[1]!);
    assert.ok(names.length > 20 && names.every((n) => n.startsWith('nslab_')), 'every name has the prefix');
    c.close();
  } finally {
    await agent.close();
  }
});

test('origins: pages of other sites are refused, configured ones are allowed', { skip }, async () => {
  const agent = await sideAgent(11, { allowedOrigins: ['https://portal.example'] });
  try {
    await assert.rejects(TestClient.connect(agent.url, undefined, { origin: 'https://evil.example' }), /HTTP 403/);
    await assert.rejects(TestClient.connect(agent.url, agent.token, { origin: 'https://evil.example' }), /HTTP 403/, 'even with the token');
    const cookie = await TestClient.sessionCookie(agent.url);
    const portal = await TestClient.connect(agent.url, undefined, { cookie, origin: 'https://portal.example' });
    assert.equal((await portal.waitFor((m) => m.type === 'hello')).authenticated, true);
    portal.close();
    const own = await TestClient.connect(agent.url, undefined, { cookie, origin: agent.url });
    assert.equal((await own.waitFor((m) => m.type === 'hello')).authenticated, true);
    own.close();
  } finally {
    await agent.close();
  }
});

test('shutdown: labs are told, in their panes and to their clients, then closed', { skip }, async () => {
  const agent = await sideAgent(12, { shutdownNoticeMs: 1000 });
  const c = await TestClient.connect(agent.url, agent.token);
  const id = (await c.request({ type: 'open', lesson: 'uts' })).data.id as string;
  const lab = agent.manager.get(id)!;
  await c.request({ type: 'attach', lab: id, pane: 'host', cols: 80, rows: 24 });
  let screen = '';
  lab.pane('host')!.on('data', (d) => (screen += d.toString()));
  const stopping = agent.close();
  const warned = await c.waitFor((m) => m.type === 'lab-closing' && m.lab === id);
  assert.equal(warned.reason, 'the agent is stopping');
  assert.match(screen, /\[nslab\] nslab is stopping: this lab closes in 1 s/);
  assert.equal(lab.state, 'open', 'not closed before the notice time');
  const parents = agent.manager.cgroups.hierarchies.map((h) => join(h.mount, agent.manager.cgroups.group));
  assert.ok(parents.length && parents.every((p) => existsSync(p)), 'the agent has its parent cgroups');
  await stopping;
  assert.equal(lab.state, 'closed');
  for (const p of parents) assert.equal(existsSync(p), false, `${p} removed on stop`);
  assert.equal((await c.waitClosed()).code, 1001);
});
