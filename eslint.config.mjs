// ESLint for Gearshift: a short, deliberate list of rules, most of them type-aware, rather than a whole preset.
// The rules that matter most are the promise rules: a promise nobody awaits loses its error, and an async
// function handed to a callback that ignores its result (an event emitter, a timer) fails silently.
// Formatting belongs to Prettier; eslint-config-prettier turns off every rule that would fight it.
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// Rules for both TypeScript and the few JavaScript files.
const common = {
  eqeqeq: ['error', 'always'],
  // `let x; ... x = ...` stays when a closure made before the assignment reads x (it must not meet a const in its TDZ).
  'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
  'no-var': 'error',
  'no-console': 'off',
};

// Unused names are errors, except those that start with `_`: an argument a signature requires, a value left out
// of a destructuring on purpose.
const unusedVars = [
  'error',
  {
    args: 'after-used',
    argsIgnorePattern: '^_',
    varsIgnorePattern: '^_',
    caughtErrorsIgnorePattern: '^_',
    destructuredArrayIgnorePattern: '^_',
    ignoreRestSiblings: true,
  },
];

export default defineConfig(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '.gearshift/**',
      // Cartridge starter apps and test fixture apps stand for code written by the platform's users.
      'cartridges/**',
      'test/fixtures/**',
    ],
  },
  {
    // The console's components are .tsx (apps/console, its own tsconfig with the DOM's types).
    files: ['**/*.ts', '**/*.tsx'],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      ...common,
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // `void` alone does not make a promise safe: one that is left to run on must end in a .catch.
          ignoreVoid: false,
          // node:test's test() and describe() return promises that the runner itself awaits.
          allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      'no-unused-vars': 'off',
      '@typescript-eslint/no-unused-vars': unusedVars,
      '@typescript-eslint/no-explicit-any': 'warn',
    },
  },
  {
    // The CLI and the shared library are typed all the way through.
    files: ['apps/cli/**/*.ts', 'libs/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'error' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { ...common, 'no-unused-vars': unusedVars },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: globals.node },
    rules: { ...common, 'no-unused-vars': unusedVars },
  },
  prettier,
);
