// A small kustomize renderer for the manifests under deploy/kubernetes, used by the tests when
// `kubectl` is not installed. It implements exactly what those kustomizations use: resources
// (files and directories), namespace, labels (pairs, includeTemplates), images (newName, newTag)
// and patches given by path, applied as strategic merge patches to the object of the same kind
// and name. Anything else in a kustomization.yaml, or in a patch, is refused with an error naming
// it: a renderer that skipped a field would render something else than kubectl does, and the
// tests would then check manifests nobody applies.
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';

/** One Kubernetes object as rendered (plain JSON data). */
export type K8sObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string } & Record<string, unknown>;
};

const Kustomization = z
  .object({
    apiVersion: z.literal('kustomize.config.k8s.io/v1beta1'),
    kind: z.literal('Kustomization'),
    resources: z.array(z.string().min(1)).optional(),
    namespace: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/)
      .optional(),
    labels: z
      .array(
        z
          .object({
            pairs: z.record(z.string(), z.string()),
            // Selectors are immutable on a live DaemonSet or Deployment: this renderer does not
            // touch them, so a kustomization that asks for it is refused rather than half done.
            includeSelectors: z.literal(false).optional(),
            includeTemplates: z.boolean().optional(),
          })
          .strict(),
      )
      .optional(),
    images: z
      .array(
        z
          .object({ name: z.string().min(1), newName: z.string().min(1).optional(), newTag: z.string().min(1).optional() })
          .strict()
          .refine((i) => i.newName !== undefined || i.newTag !== undefined, 'an image entry needs newName or newTag'),
      )
      .optional(),
    patches: z.array(z.object({ path: z.string().min(1) }).strict()).optional(),
  })
  .strict();
type Kustomization = z.infer<typeof Kustomization>;

/** Kinds that live outside any namespace (the namespace setting leaves them alone). */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'CustomResourceDefinition',
]);

/** Kinds whose pod template is at spec.template (labels' includeTemplates, images). */
const WORKLOADS = new Set(['Deployment', 'DaemonSet', 'StatefulSet', 'ReplicaSet', 'Job']);

/**
 * Lists that a strategic merge patch merges item by item, and the key that pairs items, by their
 * path (numbers in the path as `*`). Every other list a patch may hold is replaced whole, as the
 * API server does for lists without a merge strategy; those are named in REPLACED_LISTS, and a
 * list at a path in neither table is refused, so that no list is merged the wrong way silently.
 */
const MERGED_LISTS: Record<string, string> = {
  'spec.template.spec.containers': 'name',
  'spec.template.spec.initContainers': 'name',
  'spec.template.spec.volumes': 'name',
  'spec.template.spec.containers.*.env': 'name',
  'spec.template.spec.containers.*.ports': 'containerPort',
  'spec.template.spec.containers.*.volumeMounts': 'mountPath',
  'spec.ports': 'port',
};
const REPLACED_LISTS = new Set([
  'spec.template.spec.tolerations',
  'spec.template.spec.containers.*.command',
  'spec.template.spec.containers.*.args',
  'spec.ingress',
  'spec.egress',
  'spec.loadBalancerSourceRanges',
  'rules',
  'subjects',
]);

export class KustomizeError extends Error {}

function readYamlObjects(file: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    if (doc.errors.length) throw new KustomizeError(`${file}: not valid YAML: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    const o = value as Partial<K8sObject>;
    if (typeof o !== 'object' || typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string') {
      throw new KustomizeError(`${file}: every document must be a Kubernetes object with apiVersion, kind and metadata.name`);
    }
    out.push(o as K8sObject);
  }
  return out;
}

function readKustomization(dir: string): Kustomization {
  const file = join(dir, 'kustomization.yaml');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new KustomizeError(`${dir}: no kustomization.yaml (${(err as Error).message})`);
  }
  const docs = parseAllDocuments(text);
  if (docs.length !== 1 || docs[0]!.errors.length) throw new KustomizeError(`${file}: must be one YAML document`);
  const parsed = Kustomization.safeParse(docs[0]!.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const what = issue.code === 'unrecognized_keys' ? `not implemented by this renderer: ${issue.keys.join(', ')}` : issue.message;
    throw new KustomizeError(`${file}: ${issue.path.join('.') || 'the file'}: ${what}`);
  }
  return parsed.data;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A strategic merge of `patch` into `target` (both plain data), at `path` (for the list tables). */
function merge(target: unknown, patch: unknown, path: string[], where: string): unknown {
  if (!isObject(patch)) {
    if (Array.isArray(patch)) return mergeList(target, patch, path, where);
    return patch;
  }
  for (const key of Object.keys(patch)) {
    if (key.startsWith('$')) throw new KustomizeError(`${where}: patch directive ${key} at ${[...path, key].join('.')} is not implemented by this renderer`);
  }
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    // null in a strategic merge patch deletes the field.
    if (value === null) delete out[key];
    else out[key] = merge(out[key], value, [...path, key], where);
  }
  return out;
}

function mergeList(target: unknown, patch: unknown[], path: string[], where: string): unknown[] {
  const at = path.map((p) => (/^\d+$/.test(p) ? '*' : p)).join('.');
  const key = MERGED_LISTS[at];
  if (key === undefined) {
    if (REPLACED_LISTS.has(at)) return patch;
    throw new KustomizeError(`${where}: a list at ${at}: this renderer does not know whether to merge or replace it`);
  }
  // The order kustomize gives: the patch's items first (merged into their originals), then the
  // originals the patch does not name. It matters: an env value can expand only variables above it.
  const original = Array.isArray(target) ? target : [];
  const out: unknown[] = [];
  for (const item of patch) {
    if (!isObject(item) || item[key] === undefined) throw new KustomizeError(`${where}: every item of ${at} needs its merge key ${key}`);
    const i = original.findIndex((t) => isObject(t) && t[key] === item[key]);
    out.push(i === -1 ? item : merge(original[i], item, [...path, String(i)], where));
  }
  for (const t of original) if (!patch.some((item) => isObject(t) && isObject(item) && t[key] === item[key])) out.push(t);
  return out;
}

function applyPatch(objects: K8sObject[], file: string): void {
  const patches = readYamlObjects(file);
  for (const p of patches) {
    const hits = objects.filter(
      (o) =>
        o.kind === p.kind &&
        o.apiVersion === p.apiVersion &&
        o.metadata.name === p.metadata.name &&
        (p.metadata.namespace === undefined || p.metadata.namespace === o.metadata.namespace),
    );
    if (hits.length !== 1) throw new KustomizeError(`${file}: the patch for ${p.kind} ${p.metadata.name} matches ${hits.length} objects, not one`);
    const i = objects.indexOf(hits[0]!);
    objects[i] = merge(objects[i], p, [], file) as K8sObject;
  }
}

function setImages(o: K8sObject, images: NonNullable<Kustomization['images']>): void {
  const pod = WORKLOADS.has(o.kind) ? ((o.spec as Record<string, unknown>)?.template as Record<string, unknown>)?.spec : undefined;
  if (!isObject(pod)) return;
  for (const list of ['containers', 'initContainers']) {
    for (const c of (pod[list] as Record<string, unknown>[] | undefined) ?? []) {
      const image = String(c.image);
      // name[:tag][@digest]; a registry's port (host:5000/x) is not a tag.
      const m = /^([^@]+?)(?::([^:/@]+))?(@.+)?$/.exec(image);
      if (!m) continue;
      const hit = images.find((i) => i.name === m[1]);
      if (!hit) continue;
      if (m[3]) throw new KustomizeError(`image ${image}: digests are not implemented by this renderer`);
      const tag = hit.newTag ?? m[2];
      c.image = `${hit.newName ?? m[1]}${tag === undefined ? '' : `:${tag}`}`;
    }
  }
}

/** Render the kustomization in `dir` (a directory holding kustomization.yaml) to its objects. */
export function renderKustomization(dir: string): K8sObject[] {
  const root = resolve(dir);
  const k = readKustomization(root);
  const objects: K8sObject[] = [];
  for (const r of k.resources ?? []) {
    const p = resolve(root, r);
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      throw new KustomizeError(`${join(root, 'kustomization.yaml')}: resource ${r} does not exist`);
    }
    objects.push(...(isDir ? renderKustomization(p) : readYamlObjects(p)));
  }
  for (const patch of k.patches ?? []) applyPatch(objects, resolve(root, patch.path));
  for (const o of objects) {
    if (k.namespace !== undefined) {
      if (o.kind === 'Namespace') o.metadata.name = k.namespace;
      else if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
    }
    for (const l of k.labels ?? []) {
      o.metadata.labels = { ...(o.metadata.labels as Record<string, string> | undefined), ...l.pairs };
      if (l.includeTemplates && WORKLOADS.has(o.kind)) {
        const template = (o.spec as Record<string, Record<string, Record<string, unknown>>>).template!;
        template.metadata = { ...template.metadata, labels: { ...(template.metadata?.labels as Record<string, string> | undefined), ...l.pairs } };
      }
    }
    if (k.images) setImages(o, k.images);
  }
  const seen = new Set<string>();
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    if (seen.has(id)) throw new KustomizeError(`${root}: ${o.kind} ${o.metadata.name} is defined twice`);
    seen.add(id);
  }
  return objects;
}
