#!/usr/bin/env node
// `nx build <app>`: compiles one app and the libraries it may import into dist/<app>
// (tools/compile-apps.js). Run the result with `node dist/<app>/apps/<app>/src/main.js`.
const fs = require('fs');
const path = require('path');
const { compileApps } = require('./compile-apps');

const root = path.join(__dirname, '..');
const app = process.argv[2];
if (!app || !fs.existsSync(path.join(root, 'apps', app, 'src', 'main.ts'))) {
  console.error(`usage: node tools/build-app.js <app>   (no apps/${app}/src/main.ts)`);
  process.exit(2);
}
const outDir = path.join(root, 'dist', app);
const files = compileApps([app], outDir);
console.log(`built ${app}: ${files} files -> ${path.relative(root, outDir)}/apps/${app}/src/main.js`);
