/**
 * Regenerate the generated documentation (run with `npm run docs`):
 * - docs/language.md: the reference section between the GENERATED REFERENCE markers (the prose
 *   around it is kept),
 * - docs/diagnostics.md,
 * - docs/syntax-diagrams.html (self-contained railroad diagrams of the grammar).
 * test/compiler/docs.test.ts fails when the committed files differ from what this writes.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { packageRoot } from '../../src/compiler/resolve.js';
import { BEGIN_MARKER, END_MARKER, diagnosticsDoc, docPaths, spliceReference, syntaxDiagramsHtml } from './docs.js';

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const old = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  if (old === text) {
    console.log(`unchanged ${relative(packageRoot, path)}`);
    return;
  }
  writeFileSync(path, text);
  console.log(`wrote     ${relative(packageRoot, path)}`);
}

const language = existsSync(docPaths.language) ? readFileSync(docPaths.language, 'utf8') : `# The xbar language\n\n${BEGIN_MARKER}\n${END_MARKER}\n`;
write(docPaths.language, spliceReference(language));
write(docPaths.diagnostics, diagnosticsDoc());
write(docPaths.diagrams, syntaxDiagramsHtml());
