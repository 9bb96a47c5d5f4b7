// Agents from the Kubernetes API (NSLAB_AGENTS_ENDPOINTSLICES, namespace/service[:portName]):
// the discovery.k8s.io/v1 EndpointSlices of the agents' Service, listed again on every health
// round with the pod's service account (its token is read each time: kubelet rotates it).
//
// Which endpoints count: ready ones, and terminating ones that still serve. A draining agent's pod
// is terminating (its preStop drains it) yet holds labs until they end: the router must keep
// reaching it for those labs; it gets no new ones, since it reports itself draining.
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { z } from 'zod';
import { baseUrl, type Discovery } from './source.js';

const Endpoint = z.object({
  addresses: z.array(z.string()),
  conditions: z.object({ ready: z.boolean().nullish(), serving: z.boolean().nullish(), terminating: z.boolean().nullish() }).nullish(),
});
const Port = z.object({ name: z.string().nullish(), port: z.number().int().nullish(), protocol: z.string().nullish() });
const Slice = z.object({
  addressType: z.string(),
  endpoints: z.array(Endpoint).nullish(),
  ports: z.array(Port).nullish(),
});
const SliceList = z.object({ kind: z.literal('EndpointSliceList'), items: z.array(Slice) });

export interface KubeTarget {
  api: string;
  namespace: string;
  service: string;
  portName: string | null;
  tokenFile: string;
  caFile: string | null;
}

/** The slices' endpoints that may take traffic, as base URLs (pure: the tests feed it JSON). */
export function endpointUrls(list: z.infer<typeof SliceList>, portName: string | null): string[] {
  const out = new Set<string>();
  for (const slice of list.items) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const ports = (slice.ports ?? []).filter((p) => typeof p.port === 'number' && (p.protocol ?? 'TCP') === 'TCP');
    const port = portName === null ? (ports.length === 1 ? ports[0] : undefined) : ports.find((p) => (p.name ?? '') === portName);
    if (!port) {
      if (portName === null && ports.length > 1)
        throw new Error(`the Service has ports ${ports.map((p) => p.name || p.port).join(', ')}: name one (namespace/service:portName)`);
      continue;
    }
    for (const ep of slice.endpoints ?? []) {
      const c = ep.conditions ?? {};
      // Unset conditions mean ready and serving (the API's own rule for nil).
      const ready = c.ready ?? true;
      const serving = c.serving ?? ready;
      if (!ready && !(serving && c.terminating === true)) continue;
      for (const a of ep.addresses) out.add(baseUrl(a, port.port!));
    }
  }
  return [...out];
}

function get(url: URL, token: string, ca: string | null, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(
      url,
      { method: 'GET', headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, ...(ca ? { ca } : {}), timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export function endpointSliceDiscovery(target: KubeTarget, timeoutMs = 5000): Discovery {
  const where = `${target.namespace}/${target.service}`;
  const url = new URL(
    `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(target.namespace)}/endpointslices?labelSelector=${encodeURIComponent(
      `kubernetes.io/service-name=${target.service}`,
    )}`,
    target.api,
  );
  return {
    describe: `the EndpointSlices of the Service ${where}${target.portName ? ` (port ${target.portName})` : ''}`,
    async list() {
      let token: string;
      let ca: string | null = null;
      try {
        token = readFileSync(target.tokenFile, 'utf8').trim();
        if (target.caFile) ca = readFileSync(target.caFile, 'utf8');
      } catch (err) {
        throw new Error(`cannot read the service account's files: ${(err as Error).message}`);
      }
      let r: { status: number; body: string };
      try {
        r = await get(url, token, ca, timeoutMs);
      } catch (err) {
        throw new Error(`the Kubernetes API at ${target.api} did not answer: ${(err as Error).message}`);
      }
      if (r.status === 401 || r.status === 403)
        throw new Error(
          `the Kubernetes API refused to list EndpointSlices in ${target.namespace} (HTTP ${r.status}): the router's service account needs get/list on endpointslices.discovery.k8s.io`,
        );
      if (r.status !== 200) throw new Error(`listing EndpointSlices of ${where} failed: HTTP ${r.status} ${r.body.slice(0, 200)}`);
      let raw: unknown;
      try {
        raw = JSON.parse(r.body);
      } catch {
        throw new Error(`the Kubernetes API answered something that is not JSON for ${where}`);
      }
      const parsed = SliceList.safeParse(raw);
      if (!parsed.success) throw new Error(`not an EndpointSliceList for ${where}: ${parsed.error.issues[0]?.message}`);
      return endpointUrls(parsed.data, target.portName);
    },
  };
}
