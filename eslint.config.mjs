import nx from '@nx/eslint-plugin';

// Module boundaries: apps import libs only; an agent lib imports core libs, never another agent;
// contracts import nothing of ours. See docs/architecture.md.
export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  { ignores: ['**/dist', '**/node_modules', '**/tmp', 'deploy/**', '.nx/**'] },
  {
    files: ['**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: true,
          allow: [],
          depConstraints: [
            { sourceTag: 'scope:app', onlyDependOnLibsWithTags: ['scope:agent', 'scope:core', 'scope:tools'] },
            { sourceTag: 'scope:agent', onlyDependOnLibsWithTags: ['scope:core'] },
            { sourceTag: 'scope:core', onlyDependOnLibsWithTags: ['scope:core'] },
            // operator tools that drive the agents' own code (libs/replay: the rebuild from the log; libs/cli: `mesh`)
            { sourceTag: 'scope:tools', onlyDependOnLibsWithTags: ['scope:core', 'scope:agent', 'scope:tools'] },
            { sourceTag: 'scope:testing', onlyDependOnLibsWithTags: ['scope:core', 'scope:agent'] },
            // the end-to-end suites (libs/e2e): anything but apps
            {
              sourceTag: 'scope:test',
              onlyDependOnLibsWithTags: ['scope:core', 'scope:agent', 'scope:testing', 'scope:tools'],
            },
            { sourceTag: 'scope:bench', onlyDependOnLibsWithTags: ['scope:core', 'scope:agent', 'scope:testing'] },
            { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: [] },
          ],
        },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.test.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    // The agents' logic stays readable: a function that grows past this is split into named steps.
    files: ['libs/agents/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }] },
  },
];
