import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The house rules of docs/architecture.md, checked: `src/` except `src/app/` is the ground floor and imports no
 * component and not the program; a component imports `src/` and nothing of another component; the hub takes the
 * link's protocol only through `connector/protocol/index.ts`; the program (`src/app/`) takes each component
 * through its `index.ts`. Import specifiers are relative, so each rule matches path segments of the specifier.
 */
const COMPONENTS = ['rd', 'pinger', 'observer', 'executer', 'connector'];
const anyOf = (names) => `(^|/)(${names.join('|')})/`;

function boundary(files, ignores, patterns) {
  return {
    files,
    ignores,
    rules: {
      'no-restricted-imports': ['error', { patterns: patterns.map(([regex, message]) => ({ regex, message })) }],
    },
  };
}

const program = [anyOf(['src/app']), 'the program (src/app/) is imported by nothing but itself'];
const component = (self) => [
  anyOf(COMPONENTS.filter((name) => name !== self)),
  `a component imports src/ only, never another component (docs/architecture.md); ${self}/ is wired to others in src/app/gateway.ts`,
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'test-output/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  boundary(
    ['src/**/*.ts'],
    ['src/app/**'],
    [[anyOf(['app', ...COMPONENTS]), 'the core (src/ except src/app/) imports no component and not the program']],
  ),
  boundary(
    ['src/app/**/*.ts'],
    [],
    [
      [
        '(^|/)(rd|pinger|observer|executer)/(?!index\\.js$)',
        'the program takes a component through its public surface (index.ts)',
      ],
      [
        '(^|/)connector/(?!index\\.js$|hub/index\\.js$)',
        'the program takes the connector and the hub through their index.ts',
      ],
    ],
  ),
  ...['rd', 'pinger', 'observer', 'executer'].map((name) =>
    boundary([`${name}/**/*.ts`], [], [program, component(name)]),
  ),
  boundary(
    ['connector/**/*.ts'],
    ['connector/hub/**'],
    [program, component('connector'), ['(^|/)hub/', 'the gateway side of the link does not import the hub']],
  ),
  boundary(
    ['connector/hub/**/*.ts'],
    [],
    [
      program,
      component('connector'),
      [
        '^\\.\\./(?!protocol/index\\.js$)[^./]',
        'the hub takes the protocol through connector/protocol/index.ts, nothing else of the connector',
      ],
    ],
  ),
  // The dashboard runs in the browser and is type-checked by its own tsconfig (lib DOM), which already refuses an
  // undefined name: typescript-eslint advises no-undef off where tsc checks (typescript-eslint.io/troubleshooting).
  { files: ['connector/hub/dashboard/**/*.js'], rules: { 'no-undef': 'off' } },
);
