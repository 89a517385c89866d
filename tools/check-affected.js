#!/usr/bin/env node
// Shows that `nx affected` selects the right projects (issue 14): on a throwaway commit that
// touches one library, `nx show projects --affected` must list that library and the projects
// that import it, directly or through others, and nothing else. The expected set is computed
// here from the sources' own `@agent-mesh/...` imports, independently of Nx's project graph.
//
//   node tools/check-affected.js [project]     (default: pulsar-admin)
//
// Works in a detached git worktree under tmp/, so the checkout it runs in stays untouched.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const target = process.argv[2] ?? 'pulsar-admin';

function sh(cmd, args, cwd = root) {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false' } });
}

/** Every Nx project of the workspace: name → root folder (from the project.json files). */
function projects() {
  const found = new Map();
  const visit = (dir) => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      if (!entry.isDirectory() || ['node_modules', 'dist', 'tmp', 'data', 'lib'].includes(entry.name)) continue;
      const sub = path.join(dir, entry.name);
      const file = path.join(root, sub, 'project.json');
      if (fs.existsSync(file)) found.set(JSON.parse(fs.readFileSync(file, 'utf8')).name, sub);
      if (dir.split(path.sep).length < 3) visit(sub);
    }
  };
  for (const top of ['apps', 'libs', 'bench', 'deploy']) if (fs.existsSync(path.join(root, top))) visit(top);
  if (fs.existsSync(path.join(root, 'bench', 'project.json'))) {
    found.set(JSON.parse(fs.readFileSync(path.join(root, 'bench', 'project.json'), 'utf8')).name, 'bench');
  }
  return found;
}

/** The project each `@agent-mesh/...` alias of tsconfig.base.json belongs to. */
function aliasOwners(all) {
  const { compilerOptions } = JSON.parse(fs.readFileSync(path.join(root, 'tsconfig.base.json'), 'utf8'));
  const owners = new Map();
  for (const [alias, [file]] of Object.entries(compilerOptions.paths)) {
    const owner = [...all].find(([, dir]) => file.startsWith(dir + '/'));
    if (owner) owners.set(alias, owner[0]);
  }
  return owners;
}

function sourceFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      if (['node_modules', 'dist', 'tmp', 'data', 'lib'].includes(entry.name)) continue;
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/\.(ts|tsx|js|mjs)$/.test(entry.name)) out.push(p);
    }
  };
  walk(path.join(root, dir));
  return out;
}

/** project → the projects it imports. */
function importGraph(all, owners) {
  const graph = new Map();
  const aliases = [...owners.keys()].sort((a, b) => b.length - a.length);
  for (const [name, dir] of all) {
    const deps = new Set();
    for (const file of sourceFiles(dir)) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from\s+|import\(\s*|require\(\s*)['"](@agent-mesh\/[^'"]+)['"]/g)) {
        const alias = aliases.find((a) => m[1] === a || m[1].startsWith(a + '/'));
        if (alias && owners.get(alias) !== name) deps.add(owners.get(alias));
      }
    }
    graph.set(name, deps);
  }
  return graph;
}

function dependentsOf(project, graph) {
  const result = new Set([project]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [name, deps] of graph) {
      if (!result.has(name) && [...deps].some((d) => result.has(d))) {
        result.add(name);
        grew = true;
      }
    }
  }
  return result;
}

const all = projects();
if (!all.has(target)) {
  console.error(`check-affected: no project named "${target}" (projects: ${[...all.keys()].sort().join(', ')})`);
  process.exit(2);
}
const expected = dependentsOf(target, importGraph(all, aliasOwners(all)));

const scratch = path.join(root, 'tmp', `affected-check-${process.pid}`);
sh('git', ['worktree', 'add', '--detach', '--quiet', scratch, 'HEAD']);
let affected;
try {
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'));
  const touched = path.join(scratch, all.get(target), 'src', 'index.ts');
  fs.appendFileSync(touched, '// affected-check: a throwaway change\n');
  sh(
    'git',
    ['-c', 'user.name=affected-check', '-c', 'user.email=ci@localhost', 'commit', '-qam', 'throwaway'],
    scratch,
  );
  const out = sh('npx', ['nx', 'show', 'projects', '--affected', '--base=HEAD~1', '--head=HEAD', '--json'], scratch);
  affected = new Set(JSON.parse(out.slice(out.indexOf('['))));
} finally {
  sh('git', ['worktree', 'remove', '--force', scratch]);
}

const missing = [...expected].filter((p) => !affected.has(p));
const extra = [...affected].filter((p) => !expected.has(p));
console.log(`touched ${target}: nx affected lists ${[...affected].sort().join(', ')}`);
console.log(
  `  not affected: ${[...all.keys()]
    .filter((p) => !affected.has(p))
    .sort()
    .join(', ')}`,
);
if (missing.length || extra.length) {
  console.error(
    `check-affected: FAILED — missing ${missing.join(', ') || 'none'}; unexpected ${extra.join(', ') || 'none'}`,
  );
  process.exit(1);
}
console.log(`check-affected: ok (${affected.size} of ${all.size} projects, as the imports say)`);
