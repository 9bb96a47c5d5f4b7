// A workshop in real browsers, against a real agent with real labs: the instructor makes it
// (the CLI's request), three learners join in three browser contexts (two languages, the code
// typed as read aloud), the dashboard sees the room, a task turn done, a help request come and
// go, a broadcast reach every page; the CSV is the grid; a wrong code, a full workshop and a
// wrong instructor key each get their own clear message; a learner's browser reaches nothing of
// the dashboard's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatJoinCode } from '@nslab/shared';
import { serve, type Served } from '../helpers/server.ts';
import { launch, browserTestsSkip } from '../helpers/browser.ts';
import { expectScreen, openPage, run, screen, typeCommand, waitFor, waitPrompts } from '../helpers/page.ts';
import { TestClient } from '../helpers/ws.ts';
import { runCli } from '../../apps/agent/src/cli/run.ts';
import { makeIO } from '../cli/streams.ts';

const skip = browserTestsSkip('the workshop tests');

test('a workshop: three learners join, the dashboard follows the room, help and broadcast, the CSV is the grid', { skip }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'nslab-e2e-workshop-'));
  const agent: Served = await serve('nslabe2ew', { NSLAB_DATA_DIR: join(root, 'data'), NSLAB_ID_BASE: '238000000', NSLAB_WARM_PER_LESSON: '0' });
  const browser = await launch();
  try {
    const admin = await TestClient.connect(agent.url, agent.token);
    // The instructor makes the workshop with the CLI; its stable lines give the links.
    const io = makeIO({ env: { NSLAB_URL: agent.url, NSLAB_TOKEN: agent.token } });
    assert.equal(
      await runCli(['workshop', 'create', '--title', 'Namespaces, Tuesday', '--lessons', 'uts', '--seats', '5'], { ...io, tokenFile: '/nonexistent' }),
      0,
    );
    const said = (key: string) => new RegExp(`^${key}: (.+)$`, 'm').exec(io.stdout.text())?.[1] ?? '';
    const instructorUrl = said('instructor');
    const w = { id: said('workshop'), code: said('code'), instructorKey: decodeURIComponent(instructorUrl.split('#key=')[1] ?? '') };
    assert.equal(said('join'), `${agent.url}/en/join?code=${w.code}`);
    const small = (await admin.request({ type: 'workshop-create', title: 'One seat', lessons: ['uts'], seats: 1 })).data;

    // Three learners: the link with the code, the code typed lowercase with its dash, Chinese.
    const learners: Array<{ name: string; page: import('playwright-core').Page }> = [];
    for (const [name, lang, how] of [
      ['Ann', 'en', 'link'],
      ['Bo', 'en', 'typed'],
      ['陈', 'zh', 'link'],
    ] as const) {
      const { page } = await openPage(browser, how === 'link' ? `${agent.url}/${lang}/join?code=${w.code}` : `${agent.url}/${lang}/join`);
      if (how === 'typed') await page.fill('form[data-join] input[name="code"]', formatJoinCode(w.code).toLowerCase());
      else await waitFor('the link to fill the code in', async () => (await page.inputValue('form[data-join] input[name="code"]')) === w.code, 10_000);
      await page.fill('form[data-join] input[name="name"]', name);
      await page.click('form[data-join] button[type="submit"]');
      await page.waitForURL(`${agent.url}/${lang}/lessons/uts`);
      await waitPrompts(page, ['host', 'container']);
      learners.push({ name, page });
    }
    const [ann, bo] = learners as [(typeof learners)[0], (typeof learners)[0], (typeof learners)[0]];
    for (const l of learners) {
      const bar = l.page.locator(`[data-workshop="${w.id}"]`);
      await bar.waitFor();
      assert.match(await bar.innerText(), new RegExp(`Namespaces, Tuesday[\\s\\S]*${l.name}`));
      assert.equal(await l.page.locator('[data-broadcast]').count(), 0, 'no broadcast yet');
    }

    // The dashboard, through the instructor link.
    const { page: dash } = await openPage(browser, instructorUrl);
    for (const l of learners) await dash.waitForSelector(`[data-learner="${l.name}"]`);
    assert.equal(await dash.locator('[data-learner]').count(), 3);
    const cell = (name: string) => dash.locator(`[data-learner="${name}"] [data-task="uts/set-hostname"]`);
    for (const l of learners) assert.equal(await cell(l.name).getAttribute('data-status'), 'pending');

    // Bo does the task; only Bo's cell turns done.
    await run(bo.page, 'container', 'hostname -b bird');
    await bo.page.waitForSelector('[data-task="set-hostname"][data-status="done"]', { timeout: 30_000 });
    // The dashboard follows within about a second of the learner's own page.
    const seenAt = Date.now();
    await waitFor("Bo's cell on the dashboard", async () => (await cell('Bo').getAttribute('data-status')) === 'done', 10_000);
    const lag = Date.now() - seenAt;
    assert.ok(lag < 2_000, `the dashboard showed Bo's task ${lag} ms after Bo's page`);
    assert.equal(await cell('Ann').getAttribute('data-status'), 'pending');
    assert.equal(await cell('陈').getAttribute('data-status'), 'pending');

    // Ann asks for help; it shows, is answered, and goes.
    await ann.page.click('button[data-ask-help]');
    await ann.page.fill('.workshop-help-form input[name="help"]', 'my hostname will not change');
    await ann.page.click('button[data-help-send]');
    await ann.page.waitForSelector('[data-help-sent]');
    const help = dash.locator('[data-help="Ann"]');
    await help.waitFor();
    assert.match(await help.innerText(), /my hostname will not change/);
    await help.locator('button[data-help-answer]').click();
    await help.waitFor({ state: 'detached' });

    // A broadcast reaches every learner's page.
    await dash.fill('textarea[data-broadcast-input]', 'Ten minutes left');
    await dash.click('button[data-broadcast-send]');
    for (const l of learners) await l.page.waitForSelector('[data-broadcast]:has-text("Ten minutes left")');
    // A page opened now gets it from its seat; taken down, it goes from every page.
    await bo.page.reload();
    await bo.page.waitForSelector('[data-broadcast]:has-text("Ten minutes left")');
    await dash.click('button[data-broadcast-clear]');
    for (const l of learners) await l.page.waitForSelector('[data-broadcast]', { state: 'detached' });

    // The CSV: a row per learner and task, as the grid says.
    const href = await dash.locator('a[data-csv]').getAttribute('href');
    const csv = decodeURIComponent(href!.replace(/^data:text\/csv;charset=utf-8,/, ''));
    const rows = csv.trim().split('\r\n');
    assert.equal(rows[0], 'learner,lesson,task,done_at');
    const taskIds = await dash.locator('[data-learner="Ann"] [data-task]').evaluateAll((els) => els.map((e) => e.getAttribute('data-task')));
    assert.equal(rows.length - 1, 3 * taskIds.length);
    for (const l of learners)
      for (const id of taskIds) {
        const [lesson, task] = id!.split('/');
        const row = rows.find((r) => r.startsWith(`${l.name},${lesson},${task},`));
        assert.ok(row, `a row for ${l.name} ${id}`);
        const status = await dash.locator(`[data-learner="${l.name}"] [data-task="${id}"]`).getAttribute('data-status');
        assert.equal(row!.split(',')[3] !== '', status === 'done', `${l.name} ${id}: the CSV says what the grid says`);
      }

    // Watching Ann: her panes, live and read-only, in a new tab.
    const [watchPage] = await Promise.all([dash.context().waitForEvent('page'), dash.click('[data-learner="Ann"] a[data-watch]')]);
    await watchPage.waitForURL(/\/en\/(watch#|instructor\/[a-z0-9]+\/learner\/[a-z0-9]+)/);
    await watchPage.waitForSelector('[data-pane="container"]');
    await run(ann.page, 'host', 'echo seen-by-the-instructor');
    await waitFor(
      "Ann's output in the watch view",
      async () => (await watchPage.locator('[data-pane="host"]').innerText()).includes('seen-by-the-instructor'),
      15_000,
    );

    // Take-over: the instructor asks in the live view; Ann allows on her page; the instructor's
    // typing reaches Ann's shell; Ann ends it.
    await watchPage.click('button[data-takeover-request]');
    await ann.page.waitForSelector('[data-takeover]');
    await ann.page.click('[data-takeover] button[data-allow]');
    await watchPage.waitForSelector('[data-takeover-state="allowed"]');
    await watchPage.waitForSelector('[data-pane="host"]:not([data-readonly])');
    await typeCommand(watchPage, 'host', 'echo typed-by-$((40+2))-instructor');
    await expectScreen(ann.page, 'host', /typed-by-42-instructor/);
    await ann.page.click('button[data-takeover-stop]');
    await watchPage.waitForSelector('[data-takeover-state="ended"]');

    // Bo's recording: downloaded, it is asciicast v2 with what Bo typed; replayed in the browser
    // by the player the agent serves, with the task's marker.
    await bo.page.click('[data-pane="container"]');
    const castLink = dash.locator('[data-learner="Bo"] a[data-cast="container"]');
    await castLink.waitFor();
    const cast = await (await fetch(`${agent.url}${await castLink.getAttribute('href')}`)).text();
    const [head, ...events] = cast.trimEnd().split('\n');
    assert.equal(JSON.parse(head!).version, 2);
    const parsed = events.map((l) => JSON.parse(l) as [number, string, string]);
    assert.ok(
      parsed
        .filter((e) => e[1] === 'i')
        .map((e) => e[2])
        .join('')
        .includes('hostname -b bird'),
      'what Bo typed',
    );
    assert.ok(
      parsed.some((e) => e[1] === 'm' && e[2] === 'set-hostname'),
      'the marker of the task',
    );
    const [replay] = await Promise.all([dash.context().waitForEvent('page'), dash.click('[data-learner="Bo"] a[data-replay-link="container"]')]);
    await replay.waitForSelector('[data-replay] .ap-player, [data-replay] .ap-wrapper', { timeout: 20_000 });
    await replay.waitForSelector('button[data-marker="set-hostname"]');
    assert.equal(await replay.locator('[data-replay-error]').count(), 0);

    // Reset: Bo gets a fresh lab (its hostname is the lab's again), and keeps the task done.
    await dash.click('[data-learner="Bo"] button[data-learner-action="reset"]');
    await waitPrompts(bo.page, ['host', 'container']);
    await waitFor(
      'a fresh lab for Bo',
      async () => {
        await run(bo.page, 'container', 'echo "name=$(hostname)"');
        return /name=nslab/.test(await screen(bo.page, 'container'));
      },
      30_000,
    );
    assert.equal(await cell('Bo').getAttribute('data-status'), 'done', 'progress outlives the lab');

    // A learner's own browser reaches nothing of the dashboard's.
    const probe = await ann.page.evaluate(
      async ({ id }) => {
        const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/api/ws?v=2`);
        const answers: Array<{ code?: string; type: string }> = [];
        await new Promise((r) => ws.addEventListener('open', r));
        ws.addEventListener('message', (e) => {
          const m = JSON.parse(e.data as string);
          if (m.type === 'result' || m.type === 'error') answers.push(m);
        });
        ws.send(JSON.stringify({ type: 'workshop-show', id: 1, workshop: id }));
        ws.send(JSON.stringify({ type: 'broadcast', id: 2, workshop: id, text: 'I am the teacher now' }));
        ws.send(JSON.stringify({ type: 'workshop-list', id: 3 }));
        await new Promise((r) => setTimeout(r, 1000));
        ws.close();
        return answers.map((a) => a.code ?? a.type);
      },
      { id: w.id },
    );
    assert.deepEqual(probe, ['forbidden', 'forbidden', 'forbidden']);

    // The join page's clear messages: a wrong code, a full workshop.
    const { page: late } = await openPage(browser, `${agent.url}/en/join?code=CCCCCCCC`);
    await late.fill('form[data-join] input[name="name"]', 'Late');
    await late.click('form[data-join] button[type="submit"]');
    await late.waitForSelector('[data-join-error="bad-code"]');
    const first = await openPage(browser, `${agent.url}/en/join?code=${small.code}`);
    await first.page.fill('form[data-join] input[name="name"]', 'First');
    await first.page.click('form[data-join] button[type="submit"]');
    await first.page.waitForURL(/\/en\/lessons\/uts$/);
    await late.fill('form[data-join] input[name="code"]', small.code);
    await late.click('form[data-join] button[type="submit"]');
    await late.waitForSelector('[data-join-error="workshop-full"]');
    assert.match(await late.locator('[data-join-error]').innerText(), /full/);
    const later = (
      await admin.request({ type: 'workshop-create', title: 'Later', lessons: ['uts'], seats: 5, opens: new Date(Date.now() + 3_600_000).toISOString() })
    ).data;
    await late.fill('form[data-join] input[name="code"]', ` ${formatJoinCode(later.code).toLowerCase()} `);
    await late.click('form[data-join] button[type="submit"]');
    await late.waitForSelector('[data-join-error="workshop-not-open"]');
    assert.match(await late.locator('[data-join-error]').innerText(), /not opened yet\. It opens at .*\d/);

    // A wrong instructor key: a clear page, no room.
    const { page: wrong } = await openPage(browser, `${agent.url}/en/instructor/${w.id}#key=not-the-key`);
    await wrong.waitForSelector('[data-dashboard-error="forbidden"]');
    assert.equal(await wrong.locator('[data-learner]').count(), 0);
    admin.close();
  } finally {
    await browser.close();
    await agent.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
