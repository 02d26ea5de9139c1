import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['**/node_modules/**', '.cache/**', '**/dist/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // process.env is read only in config files (one validated env per service).
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read env only in config.ts' }],
    },
  },
  {
    files: ['**/config.ts', 'test/**', '**/test/**', 'bench/**', 'scripts/**', 'packages/testkit/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
)
