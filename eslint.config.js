// ESLint flat config: @eslint/js and typescript-eslint recommended (not type-checked)
// over the TypeScript sources; `npm run lint` (CI runs it before the tests).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'editors/vscode/**', 'results/**', 'out/**', 'bench/out/**', 'test-artifacts/**', '.scratch/**'],
  },
  {
    files: ['src/**/*.ts', 'grammar/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
    },
  },
);
