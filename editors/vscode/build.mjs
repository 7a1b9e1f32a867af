// Build the extension: copy the grammar and language configuration from the repository's
// grammar/ folder (their single source), and bundle the client with esbuild (so the .vsix needs
// no node_modules: `vsce package --no-dependencies`).
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const grammarDir = join(here, '..', '..', 'grammar');

const copies = [
  [join(grammarDir, 'xbar.tmLanguage.json'), join(here, 'syntaxes', 'xbar.tmLanguage.json')],
  [join(grammarDir, 'language-configuration.json'), join(here, 'language-configuration.json')],
];
for (const [from, to] of copies) {
  if (!existsSync(from)) throw new Error(`missing ${from}: the extension takes its grammar from the repository's grammar/ folder`);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
}

await build({
  entryPoints: [join(here, 'src', 'extension.ts')],
  bundle: true,
  outfile: join(here, 'dist', 'extension.js'),
  platform: 'node',
  format: 'cjs',
  target: 'node18',
  external: ['vscode'],
  sourcemap: false,
  minify: true,
  logLevel: 'warning',
});
console.log('built dist/extension.js, syntaxes/xbar.tmLanguage.json, language-configuration.json');
