// Lint: typescript-eslint's recommended rules, and the layers of docs/ARCHITECTURE.md as import
// rules (eslint-plugin-boundaries): every import, static or dynamic, points down.
import boundaries from 'eslint-plugin-boundaries';
import tseslint from 'typescript-eslint';

/** Bottom first: a layer may import from itself and from the layers below it. Folders, matched from the repository root. */
const LAYERS = [
  ['base', ['tasks/lib/base']],
  // flags and the environment's schema; cli/main.ts (the only place that exits) needs nothing above them
  ['config', ['tasks/lib/config', 'tasks/lib/cli']],
  ['commands', ['tasks/lib/commands']],
  ['runners', ['tasks/lib/runners']],
  ['services', ['tasks/lib/state', 'tasks/lib/backup', 'tasks/lib/probes', 'tasks/lib/aws', 'tasks/lib/reports', 'tasks/lib/notify', 'tasks/lib/signals']],
  ['kernel', ['tasks/lib/kernel']],
  ['procedures', ['tasks/lib/deploy', 'tasks/lib/restore', 'tasks/lib/backup-task', 'tasks/lib/canary', 'tasks/lib/verify', 'tasks/lib/status', 'tasks/lib/doctor', 'tasks/lib/sandbox', 'tasks/lib/slo', 'tasks/lib/traffic', 'tasks/lib/validate']],
  // tasks/*.ts: matched last, so only the files directly in tasks/ are entry points
  ['entry', ['tasks']],
];

const elements = [
  ...LAYERS.flatMap(([type, patterns]) => patterns.map((pattern) => ({ type, pattern, partialMatch: false }))),
  // the sandbox (demo service, its origin, the local environment's host) is tooling beside the layers
  { type: 'sandbox', pattern: 'sandbox', partialMatch: false },
  { type: 'environment', pattern: 'environments', partialMatch: false },
];

const below = (i) => LAYERS.slice(0, i + 1).map(([type]) => type);

export default tseslint.config(
  { ignores: ['node_modules/**', 'backups/**', '.sandbox/**', '.sandbox-canary/**', '.test-runs/**', 'sandbox/demo-app/**', 'sandbox/host-bin/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // zod's values come from its CommonJS build, one copy (tasks/lib/base/zod.ts says why); types may come from 'zod'
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { paths: [{ name: 'zod', message: "import { z } from tasks/lib/base/zod.ts (zod's CommonJS build); only `import type` from 'zod'.", allowTypeImports: true }] },
      ],
    },
  },
  {
    files: ['tasks/**/*.ts', 'sandbox/**/*.ts', 'environments/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'boundaries/elements': elements,
      'boundaries/include': ['tasks/**/*.ts', 'sandbox/**/*.ts', 'environments/**/*.ts'],
      'import/resolver': { node: { extensions: ['.ts'] } },
    },
    rules: {
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          policies: [
            ...LAYERS.map(([type], i) => ({ from: { element: { type } }, allow: { to: { element: { types: { anyOf: below(i) } } } } })),
            // the entry points load their procedure and the kernel lazily (after --help)
            { from: { element: { type: 'entry' } }, allow: { to: { element: { types: { anyOf: ['procedures', 'kernel'] } } } } },
            // the local sandbox is created by the kernel and doctor; it uses the base vocabulary and builders
            { from: { element: { types: { anyOf: ['services', 'kernel', 'procedures'] } } }, allow: { to: { element: { type: 'sandbox' } } } },
            { from: { element: { type: 'sandbox' } }, allow: { to: { element: { types: { anyOf: ['sandbox', 'base', 'commands', 'runners'] } } } } },
            { from: { element: { type: 'environment' } }, allow: { to: { element: { types: { anyOf: ['config', 'sandbox'] } } } } },
          ],
        },
      ],
    },
  },
);
