import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
  // The dashboard runs in the browser and is type-checked by its own tsconfig (lib DOM), which already refuses an
  // undefined name: typescript-eslint advises no-undef off where tsc checks (typescript-eslint.io/troubleshooting).
  { files: ['connector/hub/dashboard/**/*.js'], rules: { 'no-undef': 'off' } },
);
