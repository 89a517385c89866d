#!/usr/bin/env node
// `npx mesh …`: runs apps/cli/src/main.ts through @swc-node/register, as `npm start` runs the mesh,
// with the workspace's tsconfig (for the @agent-mesh/* paths) wherever it is started from.
const path = require('node:path');
const root = path.resolve(__dirname, '../../..');
process.env.SWC_NODE_PROJECT = process.env.SWC_NODE_PROJECT || path.join(root, 'tsconfig.json');
require('@swc-node/register');
require(path.join(root, 'apps/cli/src/main.ts'));
