#!/usr/bin/env node
// The npm registry this project's machines reach lacks some platform-specific optional
// packages (e.g. @swc/core-darwin-arm64). `npm install` then leaves them out of
// package-lock.json, and `npm ci` refuses the lock as out of sync. This adds each missing
// optional dependency as a platform-guarded entry (os/cpu/libc from its name), which npm ci
// skips on other platforms without fetching. Run after `npm install`.
const fs = require('fs');
const path = require('path');

const lockPath = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
const packages = lock.packages;

const OS = ['darwin', 'linux', 'win32', 'android', 'freebsd', 'openharmony', 'openbsd', 'sunos', 'aix', 'netbsd'];
const CPU = {
  arm64: 'arm64',
  x64: 'x64',
  ia32: 'ia32',
  arm: 'arm',
  ppc64: 'ppc64',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  wasm32: 'wasm32',
};

function platformOf(name) {
  const tokens = name.split('/').pop().split('-');
  const os = tokens.find((t) => OS.includes(t));
  const cpu = tokens.map((t) => CPU[t]).find(Boolean);
  if (!os || !cpu) return undefined;
  const libc =
    tokens.includes('musl') || tokens.includes('musleabihf')
      ? 'musl'
      : tokens.includes('gnu') || tokens.includes('gnueabihf')
        ? 'glibc'
        : undefined;
  return { os: [os], cpu: [cpu], ...(os === 'linux' && libc ? { libc: [libc] } : {}) };
}

let added = 0;
for (const [location, meta] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(meta.optionalDependencies || {})) {
    const base = location ? `${location}/node_modules/${dep}` : `node_modules/${dep}`;
    if (packages[base] || packages[`node_modules/${dep}`]) continue;
    const platform = platformOf(dep);
    if (!platform) {
      console.warn(
        `complete-lockfile: ${dep} (optional dependency of ${location || 'the root'}) is missing and is not platform-specific: left out`,
      );
      continue;
    }
    const current = platform.os[0] === process.platform && platform.cpu[0] === process.arch;
    if (current) {
      console.warn(`complete-lockfile: ${dep} matches this platform but is missing: run npm install`);
      continue;
    }
    packages[`node_modules/${dep}`] = { version: String(version).replace(/^[\^~]/, ''), optional: true, ...platform };
    added++;
  }
}
fs.writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} platform-guarded optional entr${added === 1 ? 'y' : 'ies'}`);
