// Compiles apps and the libraries they may import with SWC (keeping the decorator metadata
// NestJS needs) into outDir, rewriting the tsconfig path aliases to relative requires; the
// entry of an app lands at <outDir>/apps/<app>/src/main.js. Files the code reads at run time
// (the Redis state store's Lua scripts, the demo's documents) are copied to the same relative place. Shared by
// `nx build <app>` (tools/build-app.js) and the benchmark's own agent build (bench/src/build.ts).
const fs = require('fs');
const path = require('path');
const swc = require('@swc/core');

const root = path.join(__dirname, '..');
const skip = /(\.spec\.ts$|\/conformance\/|\/testing\/|^libs\/testing\/)/;

/** The files under dir (relative to the root) whose names match `wanted`, test code left out. */
function filesUnder(dir, wanted) {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : filesUnder(rel, wanted);
    return wanted.test(rel) && !skip.test(rel) ? [rel] : [];
  });
}

function sources(dir) {
  return filesUnder(dir, /\.ts$/);
}

function copyAssets(dirs, wanted, outDir) {
  for (const file of dirs.flatMap((dir) => filesUnder(dir, wanted))) {
    const target = path.join(outDir, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(path.join(root, file), target);
  }
}

/** Replaces outDir with a build of `apps` and every library; returns the number of files compiled. */
function compileApps(apps, outDir) {
  const { compilerOptions } = JSON.parse(fs.readFileSync(path.join(root, 'tsconfig.base.json'), 'utf8'));
  const files = [...apps.flatMap((app) => sources(path.join('apps', app, 'src'))), ...sources('libs')];
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
    if (map) fs.writeFileSync(`${target}.map`, map);
  }
  copyAssets([...apps.map((app) => path.join('apps', app, 'src')), 'libs'], /\.lua$/, outDir);
  copyAssets(['data/documents'], /\.txt$/, outDir); // the mesh app's demo reads them
  for (const app of apps) {
    const main = path.join(outDir, 'apps', app, 'src', 'main.js');
    if (!fs.existsSync(main)) throw new Error(`build of ${app} produced no ${path.relative(root, main)}`);
  }
  return files.length;
}

module.exports = { compileApps };
