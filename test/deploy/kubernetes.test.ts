// The Kubernetes manifests (deploy/kubernetes): each kustomization rendered (`kubectl kustomize`
// where kubectl is installed, else test/helpers/kustomize.ts), every object checked against the
// Kubernetes API schemas (kubernetes-models) with unknown fields refused, and the properties
// docs/kubernetes.md promises checked on what would be applied. No cluster needed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { SETTINGS, settingValues } from '../../apps/agent/src/config.js';
import { DEFAULT_TOKEN_FILE } from '../../apps/agent/src/cli/config.js';
import { REPO_ROOT } from '../../apps/agent/src/paths.js';
import { type K8sObject, KustomizeError, renderKustomization } from '../helpers/kustomize.js';

const DEPLOY = join(REPO_ROOT, 'deploy', 'kubernetes');
const KUSTOMIZATIONS = ['base', 'overlays/example'];
const LAB_NODE = 'nslab.dev/lab-node';
/** What the agent's memory limit holds beyond its labs' (docs/kubernetes.md, Sizing). */
const AGENT_OVERHEAD_MI = 1536;

type Obj = Record<string, unknown>;
type Container = {
  name: string;
  image: string;
  env?: { name: string; value?: string; valueFrom?: Obj }[];
  ports?: { name?: string; containerPort: number }[];
  securityContext?: Obj;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
};
type PodSpec = Obj & { containers: Container[]; volumes?: (Obj & { name: string })[] };
type Template = { metadata: { labels: Record<string, string> }; spec: PodSpec };

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

function render(rel: string): K8sObject[] {
  const dir = join(DEPLOY, rel);
  if (!kubectl) return renderKustomization(dir);
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, `kubectl kustomize ${dir} failed: ${r.stderr}`);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as K8sObject);
}

// kubernetes-models validates types, enums and required fields, but (checked below) lets any
// unknown field through. Its compiled validators read every property their schema defines and
// enumerate the keys only of maps (labels, resources, ...). So the object is handed to the
// validator wrapped in proxies that note what it reads: a key it never read, in an object it
// never enumerated, is a key the schema does not define.
const requireModel = createRequire(import.meta.url);
type ModelClass = { prototype: { validate(this: unknown): void } };

function modelClass(apiVersion: string, kind: string): ModelClass {
  // kubernetes-models/<group>/<version>/<Kind>, the core group as kubernetes-models/v1/<Kind>.
  const mod = requireModel(`kubernetes-models/${apiVersion}/${kind}`) as Record<string, ModelClass>;
  const cls = mod[kind];
  if (!cls) throw new Error(`kubernetes-models has no ${apiVersion} ${kind}`);
  return cls;
}

/** Throws with every schema error, or every field the schema does not define, with its path. */
function validateStrict(o: K8sObject): void {
  const seen: { path: string; keys: string[]; read: Set<string | symbol>; enumerated: boolean }[] = [];
  const wrap = (v: unknown, path: string): unknown => {
    if (Array.isArray(v)) return v.map((x, i) => wrap(x, `${path}[${i}]`));
    if (typeof v !== 'object' || v === null) return v;
    const target: Obj = {};
    for (const [k, x] of Object.entries(v)) target[k] = wrap(x, path ? `${path}.${k}` : k);
    const note = { path, keys: Object.keys(target), read: new Set<string | symbol>(), enumerated: false };
    seen.push(note);
    return new Proxy(target, {
      get(t, k, r) {
        note.read.add(k);
        return Reflect.get(t, k, r);
      },
      has(t, k) {
        note.read.add(k);
        return Reflect.has(t, k);
      },
      ownKeys(t) {
        note.enumerated = true;
        return Reflect.ownKeys(t);
      },
    });
  };
  const where = `${o.kind} ${o.metadata?.name}`;
  try {
    modelClass(o.apiVersion, o.kind).prototype.validate.call(wrap(o, ''));
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
  const unknown = seen.filter((n) => !n.enumerated).flatMap((n) => n.keys.filter((k) => !n.read.has(k)).map((k) => (n.path ? `${n.path}.${k}` : k)));
  if (unknown.length) throw new Error(`${where}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
}

const clone = <T>(v: T): T => structuredClone(v);
const byKind = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind);
const one = (objs: K8sObject[], kind: string, component?: string): K8sObject => {
  const hits = byKind(objs, kind).filter(
    (o) => !component || (o.metadata.labels as Record<string, string> | undefined)?.['app.kubernetes.io/component'] === component,
  );
  assert.equal(hits.length, 1, `expected one ${kind}${component ? ` of ${component}` : ''}, found ${hits.length}`);
  return hits[0]!;
};
const template = (o: K8sObject) => (o.spec as { template: Template }).template;
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
const envOf = (c: Container) => new Map((c.env ?? []).map((e) => [e.name, e]));

/** A memory quantity in MiB (the suffixes these manifests may use). */
function mebibytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  assert.ok(m, `not a memory quantity: ${q}`);
  const n = Number(m[1]);
  const scale: Record<string, number> = {
    '': 1 / 2 ** 20,
    Ki: 1 / 1024,
    Mi: 1,
    Gi: 1024,
    Ti: 2 ** 20,
    k: 1e3 / 2 ** 20,
    M: 1e6 / 2 ** 20,
    G: 1e9 / 2 ** 20,
    T: 1e12 / 2 ** 20,
  };
  return n * scale[m[2] ?? '']!;
}

/** The example Secret: its name and keys are what the pods' secretKeyRefs must name. */
const secretExample = () => {
  const docs = parseAllDocuments(readFileSync(join(DEPLOY, 'secret.example.yaml'), 'utf8')).map((d) => d.toJS() as K8sObject);
  assert.equal(docs.length, 1);
  return docs[0]!;
};

describe('the schema check itself', () => {
  const daemonSet = () => one(render('base'), 'DaemonSet');

  test('kubernetes-models alone lets an unknown field through (which is why the strict check exists)', () => {
    const o = clone(daemonSet()) as Obj;
    (template(o as K8sObject).spec as Obj).hostPid = true;
    assert.doesNotThrow(() => modelClass('apps/v1', 'DaemonSet').prototype.validate.call(o));
  });

  test('a misspelled field is refused, naming its path', () => {
    const a = clone(daemonSet());
    (template(a).spec as Obj).hostPid = true;
    assert.throws(() => validateStrict(a), /unknown fields? .*spec\.template\.spec\.hostPid/);
    const b = clone(daemonSet());
    (b.spec as Obj).updateStrategy = { tpye: 'OnDelete' };
    assert.throws(() => validateStrict(b), /unknown fields? .*spec\.updateStrategy\.tpye/);
    const c = clone(daemonSet());
    (template(c).spec.containers[0]!.securityContext as Obj).privilegd = true;
    assert.throws(() => validateStrict(c), /securityContext\.privilegd/);
  });

  test('a wrong type or value is refused', () => {
    const a = clone(daemonSet());
    (template(a).spec as Obj).hostPID = 'no';
    assert.throws(() => validateStrict(a), /hostPID must be boolean/);
    const b = clone(daemonSet());
    (b.spec as Obj).updateStrategy = { type: 'Ondelete' };
    assert.throws(() => validateStrict(b), /updateStrategy\/type must be equal to one of the allowed values/);
  });

  test('maps (labels, resources) may hold any key, and the unchanged object passes', () => {
    const a = clone(daemonSet());
    (a.metadata.labels as Record<string, string>)['example.org/anything'] = 'yes';
    assert.doesNotThrow(() => validateStrict(a));
  });
});

describe('the renderer used without kubectl', () => {
  const dirs: string[] = [];
  const kustomization = (text: string, files: Record<string, string> = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'nslab-kustomize-'));
    dirs.push(dir);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'kustomization.yaml'), `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n${text}`);
    for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
    return dir;
  };
  const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: "1"\n';

  test('refuses fields of kustomization.yaml it does not implement', (t) => {
    t.after(() => {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    });
    assert.throws(
      () => renderKustomization(kustomization('resources: [cm.yaml]\ncommonLabels: {a: b}\n', { 'cm.yaml': cm })),
      (e: unknown) => {
        return e instanceof KustomizeError && /not implemented by this renderer: commonLabels/.test(e.message);
      },
    );
    assert.throws(
      () => renderKustomization(kustomization('resources: [cm.yaml]\nlabels: [{pairs: {a: b}, includeSelectors: true}]\n', { 'cm.yaml': cm })),
      KustomizeError,
    );
    assert.throws(
      () => renderKustomization(kustomization('resources: [cm.yaml]\npatches: [{path: p.yaml, target: {kind: ConfigMap}}]\n', { 'cm.yaml': cm })),
      KustomizeError,
    );
    // A patch that names nothing, or a list it cannot tell merging from replacing, is an error.
    const miss = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  a: "2"\n';
    assert.throws(
      () => renderKustomization(kustomization('resources: [cm.yaml]\npatches: [{path: p.yaml}]\n', { 'cm.yaml': cm, 'p.yaml': miss })),
      /matches 0 objects/,
    );
    const list = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\nspec:\n  things: [1]\n';
    assert.throws(
      () => renderKustomization(kustomization('resources: [cm.yaml]\npatches: [{path: p.yaml}]\n', { 'cm.yaml': cm, 'p.yaml': list })),
      /does not know whether to merge or replace/,
    );
  });

  test('merges lists by their key and sets namespace, labels and images', (t) => {
    t.after(() => {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    });
    const deploy =
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers:\n        - name: c\n          image: img\n          env: [{name: A, value: "1"}, {name: B, value: "2"}]\n';
    const patch =
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers:\n        - name: c\n          env: [{name: B, value: "3"}, {name: C, value: "4"}]\n';
    const dir = kustomization(
      'resources: [d.yaml]\nnamespace: ns\nlabels: [{pairs: {l: v}, includeTemplates: true}]\nimages: [{name: img, newName: reg.example/img, newTag: "1.2"}]\npatches: [{path: p.yaml}]\n',
      { 'd.yaml': deploy, 'p.yaml': patch },
    );
    const [d] = renderKustomization(dir);
    assert.equal(d!.metadata.namespace, 'ns');
    assert.deepEqual(d!.metadata.labels, { l: 'v' });
    const c = template(d!).spec.containers[0]!;
    assert.equal(c.image, 'reg.example/img:1.2');
    // kustomize's order: the patch's items first, then the others.
    assert.deepEqual(c.env, [
      { name: 'B', value: '3' },
      { name: 'C', value: '4' },
      { name: 'A', value: '1' },
    ]);
    assert.deepEqual(template(d!).metadata.labels, { a: 'b', l: 'v' });
    assert.deepEqual((d!.spec as { selector: unknown }).selector, { matchLabels: { a: 'b' } }, 'selectors are left alone');
  });
});

test('the renderer renders what kubectl kustomize does', { skip: kubectl ? false : 'kubectl is not installed' }, () => {
  const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  for (const rel of KUSTOMIZATIONS) {
    const ours = new Map(renderKustomization(join(DEPLOY, rel)).map((o) => [key(o), o]));
    const theirs = render(rel);
    assert.deepEqual([...ours.keys()].sort(), theirs.map(key).sort(), rel);
    for (const o of theirs) assert.deepEqual(ours.get(key(o)), o, `${rel}: ${key(o)}`);
  }
});

for (const rel of KUSTOMIZATIONS) {
  describe(`deploy/kubernetes/${rel}${kubectl ? ' (kubectl kustomize)' : ''}`, () => {
    const objs = render(rel);
    const agents = one(objs, 'DaemonSet', 'agent');
    const router = one(objs, 'Deployment', 'router');
    const agentPod = template(agents);
    const routerPod = template(router);
    const agent = agentPod.spec.containers.find((c) => c.name === 'agent')!;
    const routerC = routerPod.spec.containers.find((c) => c.name === 'router')!;
    const agentEnv = envOf(agent);
    const routerEnv = envOf(routerC);
    const agentLabels = agentPod.metadata.labels;
    const routerLabels = routerPod.metadata.labels;

    test('every object passes the Kubernetes API schema, with no unknown field', () => {
      assert.ok(objs.length >= 12, `rendered only ${objs.length} objects`);
      for (const o of objs) validateStrict(o);
      validateStrict(secretExample());
    });

    test('everything is in one namespace, which the rendering also makes', () => {
      const ns = one(objs, 'Namespace').metadata.name;
      for (const o of objs) if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, ns, `${o.kind} ${o.metadata.name}`);
      assert.ok(!objs.some((o) => o.kind.startsWith('Cluster')), 'no cluster-wide object');
    });

    test('the agents: a privileged DaemonSet on tainted lab nodes, without the host PID or network', () => {
      assert.equal(agent.securityContext?.privileged, true);
      for (const f of ['hostPID', 'hostNetwork', 'hostIPC']) assert.notEqual(agentPod.spec[f], true, f);
      assert.equal((agentPod.spec.nodeSelector as Record<string, string>)[LAB_NODE], 'true');
      const tolerations = agentPod.spec.tolerations as { key?: string; operator?: string; value?: string; effect?: string }[];
      assert.ok(
        tolerations.some((t) => t.key === LAB_NODE && (t.operator === 'Exists' || t.value === 'true') && (t.effect === undefined || t.effect === 'NoSchedule')),
        `a toleration of the ${LAB_NODE}:NoSchedule taint`,
      );
      assert.equal(agentPod.spec.enableServiceLinks, false);
      assert.equal(agentPod.spec.automountServiceAccountToken, false, 'the agents need no API token');
    });

    test('an upgrade kills no lab: OnDelete, a preStop that drains, time enough for it', () => {
      assert.deepEqual((agents.spec as { updateStrategy: unknown }).updateStrategy, { type: 'OnDelete' });
      const command = agent.lifecycle?.preStop?.exec?.command ?? [];
      assert.match(command.join(' '), /^node \S*apps\/agent\/dist\/cli\.cjs drain --wait$/);
      const deadline = Number(agentEnv.get('NSLAB_DRAIN_DEADLINE_S')?.value ?? 3600);
      assert.ok(Number(agentPod.spec.terminationGracePeriodSeconds) > deadline, 'the grace period outlasts the drain deadline');
      // The CLI finds the agent at NSLAB_URL (its own port) with the token from the state dir.
      const port = Number(agentEnv.get('PORT')?.value);
      assert.equal(agentEnv.get('NSLAB_URL')?.value, `http://127.0.0.1:${port}`);
      assert.equal(`${agentEnv.get('NSLAB_STATE_DIR')?.value}/token`, DEFAULT_TOKEN_FILE);
    });

    test('lab roots and the agent state are on emptyDirs', () => {
      for (const setting of ['NSLAB_STATE_DIR', 'NSLAB_DATA_DIR']) {
        const dir = agentEnv.get(setting)?.value;
        const mount = agent.volumeMounts?.find((m) => m.mountPath === dir);
        assert.ok(mount, `${setting} (${dir}) is a volume`);
        const volume = agentPod.spec.volumes?.find((v) => v.name === mount.name);
        assert.ok(volume && 'emptyDir' in volume, `${setting} is an emptyDir`);
      }
    });

    test('resources cover every lab at its memory limit, plus the agent', () => {
      const labs = Number(agentEnv.get('NSLAB_MAX_LABS')?.value);
      const perLab = Number(agentEnv.get('NSLAB_LAB_MEMORY_MB')?.value);
      assert.ok(labs > 0 && perLab > 0 && Number(agentEnv.get('NSLAB_LAB_PIDS')?.value) > 0, 'the size is stated in the manifest');
      const limits = agent.resources?.limits ?? {};
      const requests = agent.resources?.requests ?? {};
      assert.ok(limits.memory && limits.cpu && requests.memory && requests.cpu, 'cpu and memory requests and limits');
      assert.ok(mebibytes(limits.memory) >= labs * perLab + AGENT_OVERHEAD_MI, `${limits.memory} holds ${labs} x ${perLab} MiB + ${AGENT_OVERHEAD_MI} MiB`);
      assert.equal(requests.memory, limits.memory, 'memory requested as limited (Guaranteed)');
    });

    test("the agent's environment: ids, addresses and secrets, every name a real setting", () => {
      assert.deepEqual(agentEnv.get('NSLAB_AGENT_ID')?.valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
      const names = (agent.env ?? []).map((e) => e.name);
      assert.deepEqual(agentEnv.get('POD_IP')?.valueFrom, { fieldRef: { fieldPath: 'status.podIP' } });
      assert.ok(names.indexOf('POD_IP') < names.indexOf('NSLAB_ADVERTISE_URL'), 'POD_IP is defined before it is expanded');
      const port = agent.ports?.find((p) => p.name === 'http')?.containerPort;
      assert.equal(agentEnv.get('NSLAB_ADVERTISE_URL')?.value, `http://$(POD_IP):${port}`);
      assert.equal(agentEnv.get('HOST')?.value, '0.0.0.0');
      assert.equal(Number(agentEnv.get('PORT')?.value), port);
      assert.ok(agentEnv.get('NSLAB_ALLOWED_HOSTS')?.value, 'the public name is allowed');
      const secret = secretExample();
      const keys = Object.keys(secret.stringData as Obj);
      for (const [name, key] of [
        ['NSLAB_CLUSTER_KEY', 'cluster-key'],
        ['NSLAB_DATABASE_URL', 'database-url'],
      ] as const) {
        assert.deepEqual(agentEnv.get(name)?.valueFrom, { secretKeyRef: { name: secret.metadata.name, key } }, name);
        assert.ok(keys.includes(key));
      }
      // Every variable is one the agent reads (or the CLI's NSLAB_URL, or expanded above), and
      // every plain value is one the agent accepts.
      const known = new Set([...SETTINGS.map((s) => s.env), 'NSLAB_URL', 'POD_IP', 'NODE_ENV', 'NEXT_TELEMETRY_DISABLED']);
      for (const n of names) assert.ok(known.has(n), `${n} is not a setting of the agent`);
      const plain: Record<string, string> = {};
      for (const e of agent.env ?? []) if (e.value !== undefined) plain[e.name] = e.value.replace('$(POD_IP)', '10.1.2.3');
      assert.doesNotThrow(() => settingValues({}, plain as NodeJS.ProcessEnv));
    });

    test('probes on /healthz, on the port the agents and routers listen on', () => {
      for (const c of [agent, routerC]) {
        for (const probe of [c.readinessProbe, c.livenessProbe]) {
          assert.equal(probe?.httpGet?.path, '/healthz', c.name);
          assert.ok(
            c.ports?.some((p) => p.name === probe?.httpGet?.port || p.containerPort === probe?.httpGet?.port),
            `${c.name}: the probe's port is a container port`,
          );
        }
      }
    });

    test('the routers: two replicas, a disruption budget, the agents found by EndpointSlices', () => {
      assert.equal((router.spec as { replicas: number }).replicas, 2);
      const pdb = one(objs, 'PodDisruptionBudget');
      const pdbSelector = (pdb.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
      assert.ok(selects(pdbSelector, routerLabels), 'the budget selects the routers');
      assert.ok(!selects(pdbSelector, agentLabels), 'and not the agents');
      assert.ok(Number((pdb.spec as { minAvailable: number }).minAvailable) < 2, 'one router may go at a time');
      assert.equal(routerPod.spec.enableServiceLinks, false);
      const names = (routerC.env ?? []).map((e) => e.name);
      assert.deepEqual(routerEnv.get('POD_NAMESPACE')?.valueFrom, { fieldRef: { fieldPath: 'metadata.namespace' } });
      const slices = /^\$\(POD_NAMESPACE\)\/([a-z0-9-]+):([a-z0-9-]+)$/.exec(routerEnv.get('NSLAB_AGENTS_ENDPOINTSLICES')?.value ?? '');
      assert.ok(slices, 'NSLAB_AGENTS_ENDPOINTSLICES is namespace/service:port');
      assert.ok(names.indexOf('POD_NAMESPACE') < names.indexOf('NSLAB_AGENTS_ENDPOINTSLICES'));
      const service = byKind(objs, 'Service').find((s) => s.metadata.name === slices[1]);
      assert.ok(service, `the Service ${slices[1]} exists`);
      const spec = service.spec as { selector: Record<string, string>; clusterIP?: string; publishNotReadyAddresses?: boolean; ports: { name: string }[] };
      assert.ok(selects(spec.selector, agentLabels), 'it selects the agents');
      assert.ok(!selects(spec.selector, routerLabels));
      assert.ok(
        spec.ports.some((p) => p.name === slices[2]),
        `it has the port ${slices[2]}`,
      );
      assert.equal(spec.clusterIP, 'None', 'headless');
      assert.equal(spec.publishNotReadyAddresses, true, 'draining agents stay listed');
      assert.deepEqual(routerEnv.get('NSLAB_CLUSTER_KEY')?.valueFrom, agentEnv.get('NSLAB_CLUSTER_KEY')?.valueFrom, 'one cluster key');
      const known = new Set([
        'POD_NAMESPACE',
        'NSLAB_ROUTER_HOST',
        'NSLAB_ROUTER_PORT',
        'NSLAB_AGENTS_ENDPOINTSLICES',
        'NSLAB_HEALTH_INTERVAL_MS',
        'NSLAB_CLUSTER_KEY',
        'NODE_ENV',
      ]);
      for (const n of names) assert.ok(known.has(n), `${n} is not a setting of the router`);
      assert.equal(Number(routerEnv.get('NSLAB_ROUTER_PORT')?.value), routerC.ports?.find((p) => p.name === 'http')?.containerPort);
    });

    test('RBAC: the routers may only get, list and watch EndpointSlices in their namespace', () => {
      const role = one(objs, 'Role');
      assert.deepEqual(
        (role.rules as { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: unknown }[]).map((r) => ({
          apiGroups: r.apiGroups,
          resources: r.resources,
          verbs: [...r.verbs].sort(),
        })),
        [{ apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] }],
      );
      const binding = one(objs, 'RoleBinding');
      assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
      const account = byKind(objs, 'ServiceAccount').find((a) => a.metadata.name === routerPod.spec.serviceAccountName);
      assert.ok(account, "the router's ServiceAccount exists");
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace }]);
      assert.equal(byKind(objs, 'RoleBinding').length, 1, 'nothing else is bound');
    });

    test('network policies: only routers reach the agents; anyone reaches the routers; egress limited', () => {
      type Peer = { podSelector?: { matchLabels?: Record<string, string> }; namespaceSelector?: unknown; ipBlock?: unknown };
      type Rule = { from?: Peer[]; to?: Peer[]; ports?: { port?: number | string; protocol?: string }[] };
      type Policy = { podSelector: { matchLabels?: Record<string, string> }; policyTypes: string[]; ingress?: Rule[]; egress?: Rule[] };
      const policies = byKind(objs, 'NetworkPolicy').map((p) => p.spec as Policy);
      const applying = (labels: Record<string, string>) =>
        policies.filter((p) => Object.entries(p.podSelector.matchLabels ?? {}).every(([k, v]) => labels[k] === v));
      const agentPort = agent.ports?.find((p) => p.name === 'http')?.containerPort;
      const toAgents = applying(agentLabels);
      assert.ok(toAgents.some((p) => p.policyTypes.includes('Ingress')) && toAgents.some((p) => p.policyTypes.includes('Egress')));
      const agentIngress = toAgents.flatMap((p) => p.ingress ?? []);
      assert.ok(agentIngress.length > 0);
      for (const rule of agentIngress) {
        assert.ok(rule.from?.length, 'no ingress rule to the agents is open to all');
        for (const peer of rule.from) {
          assert.equal(peer.ipBlock, undefined);
          assert.equal(peer.namespaceSelector, undefined, 'only pods of this namespace');
          assert.ok(selects(peer.podSelector?.matchLabels, routerLabels) && !selects(peer.podSelector?.matchLabels, agentLabels), 'router pods only');
        }
        assert.deepEqual(rule.ports, [{ protocol: 'TCP', port: agentPort }]);
      }
      const toRouters = applying(routerLabels);
      const routerPort = routerC.ports?.find((p) => p.name === 'http')?.containerPort;
      assert.ok(
        toRouters.flatMap((p) => p.ingress ?? []).some((r) => !r.from && r.ports?.some((p) => p.port === routerPort)),
        'the routers are open on their port',
      );
      for (const p of [...toAgents, ...toRouters]) {
        for (const rule of p.egress ?? []) assert.ok(rule.ports?.length, 'every egress rule names its ports');
      }
      assert.ok(
        toRouters
          .flatMap((p) => p.egress ?? [])
          .some((r) => r.to?.some((peer) => selects(peer.podSelector?.matchLabels, agentLabels)) && r.ports?.some((q) => q.port === agentPort)),
        'the routers may reach the agents',
      );
    });

    test("every Service selects some pod template's labels, and each workload's selector its own template", () => {
      const templates = [agentPod, routerPod].map((t) => t.metadata.labels);
      for (const s of byKind(objs, 'Service')) {
        const selector = (s.spec as { selector?: Record<string, string> }).selector;
        assert.ok(
          templates.some((l) => selects(selector, l)),
          `Service ${s.metadata.name} selects a pod template`,
        );
      }
      for (const w of [agents, router])
        assert.ok(selects((w.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels, template(w).metadata.labels));
    });

    if (rel.startsWith('overlays/')) {
      test('the overlay names a pinned image and puts a load balancer in front', () => {
        for (const c of [agent, routerC]) assert.match(c.image, /^[a-z0-9.-]+\.[a-z]+(:\d+)?\/[^:]+:(?!latest$)[\w.-]+$/, `${c.name}: ${c.image}`);
        const front = byKind(objs, 'Service').find((s) => selects((s.spec as { selector: Record<string, string> }).selector, routerLabels));
        assert.ok(front, 'a Service in front of the routers');
        assert.equal((front.spec as { type?: string }).type, 'LoadBalancer');
      });
    }
  });
}
