// Next.js configuration for the nslab front end. Plain ESM (not next.config.ts) so that the agent,
// which boots Next in its own process, loads it without a TypeScript transpile step at startup.
import { fileURLToPath } from 'node:url';

/** The monorepo root: Turbopack must see packages/shared, which lives outside apps/web. */
const workspaceRoot = fileURLToPath(new URL('../..', import.meta.url));

/** @type {import('next').NextConfig} */
const nextConfig = {
  // packages/shared ships TypeScript sources with ESM ".js" import specifiers.
  transpilePackages: ['@nslab/shared'],
  // The agent is usually reached as 127.0.0.1 or localhost; let dev-only resources (HMR) load from both.
  allowedDevOrigins: ['127.0.0.1', 'localhost'],
  reactStrictMode: true,
  poweredByHeader: false,
  turbopack: { root: workspaceRoot },
  outputFileTracingRoot: workspaceRoot,
  // The root layout is app/[lang]/layout.tsx: a URL outside the course gets app/global-not-found.tsx.
  experimental: { globalNotFound: true },
};

export default nextConfig;
