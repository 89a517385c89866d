#!/usr/bin/env node
// `nx build <app>`: compiles one app and the libraries it may import with SWC (keeping the
// decorator metadata NestJS needs) into dist/<app>, rewriting the tsconfig path aliases to
// relative requires. Run the result with `node dist/<app>/apps/<app>/src/main.js`.
const fs = require('fs');
const path = require('path');
const swc = require('@swc/core');

const root = path.join(__dirname, '..');
const app = process.argv[2];
if (!app || !fs.existsSync(path.join(root, 'apps', app, 'src', 'main.ts'))) {
  console.error(`usage: node tools/build-app.js <app>   (no apps/${app}/src/main.ts)`);
  process.exit(2);
}
const { compilerOptions } = require(path.join(root, 'tsconfig.base.json'));
const outDir = path.join(root, 'dist', app);
const skip = /(\.spec\.ts$|\/conformance\/|\/testing\/|^libs\/testing\/)/;

function sources(dir) {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sources(rel);
    return rel.endsWith('.ts') && !skip.test(rel) ? [rel] : [];
  });
}

const files = [...sources(path.join('apps', app, 'src')), ...sources('libs')];
fs.rmSync(outDir, { recursive: true, force: true });
for (const file of files) {
  const { code, map } = swc.transformFileSync(path.join(root, file), {
    swcrc: false,
    sourceMaps: true,
    filename: file,
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
      keepClassNames: true,
      baseUrl: root,
      paths: compilerOptions.paths,
    },
    module: { type: 'commonjs' },
  });
  const target = path.join(outDir, file.replace(/\.ts$/, '.js'));
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, `${code}\n//# sourceMappingURL=${path.basename(target)}.map\n`);
  fs.writeFileSync(`${target}.map`, map);
}
console.log(`built ${app}: ${files.length} files -> ${path.relative(root, outDir)}/apps/${app}/src/main.js`);
