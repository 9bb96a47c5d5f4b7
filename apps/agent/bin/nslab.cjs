#!/usr/bin/env node
// Launcher for the `nslab` command (root package.json "bin"). Runs the bundle apps/agent/dist/cli.cjs
// when the build made one; otherwise runs the TypeScript source through tsx in a child process and
// exits with its status.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const bundle = path.join(__dirname, '..', 'dist', 'cli.cjs');

if (fs.existsSync(bundle)) {
  require(bundle);
} else {
  const { spawn } = require('node:child_process');
  const { pathToFileURL } = require('node:url');
  const entry = path.join(__dirname, '..', 'src', 'cli', 'main.ts');

  // Resolve tsx from here rather than from the current directory, so nslab works from anywhere.
  let loader;
  try {
    loader = pathToFileURL(require.resolve('tsx')).href;
  } catch {
    process.stderr.write('nslab: tsx is not installed; run `npm install` in the nslab checkout, or `npm run build`\n');
    process.exit(1);
  }

  const child = spawn(process.execPath, ['--import', loader, entry, ...process.argv.slice(2)], { stdio: 'inherit' });

  // The terminal sends SIGINT/SIGQUIT/SIGWINCH to the whole foreground group, child included: let the
  // child handle them and report. Signals aimed at this process alone are passed on.
  const ignore = () => {};
  const forward = (signal) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const handlers = [
    ['SIGINT', ignore],
    ['SIGQUIT', ignore],
    ['SIGTERM', forward('SIGTERM')],
    ['SIGHUP', forward('SIGHUP')],
  ];
  for (const [signal, handler] of handlers) process.on(signal, handler);

  child.on('error', (err) => {
    process.stderr.write(`nslab: cannot start ${process.execPath}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    for (const [sig, handler] of handlers) process.off(sig, handler);
    if (signal) {
      // Die the same way, so the shell sees it; if that signal does not kill us, use the shell convention.
      process.kill(process.pid, signal);
      const number = require('node:os').constants.signals[signal];
      process.exit(128 + (number || 0));
    }
    process.exit(code === null ? 1 : code);
  });
}
