/**
 * The generated documentation must match what the generators produce now: the reference section
 * of docs/language.md (from the parameter table), docs/diagnostics.md (from the diagnostics
 * registry) and docs/syntax-diagrams.html (from the grammar). Regenerate with `npm run docs`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  BEGIN_MARKER,
  END_MARKER,
  REGENERATE_COMMAND,
  diagnosticsDoc,
  docPaths,
  generatedSection,
  languageReference,
  spliceReference,
  syntaxDiagramsHtml,
} from '../tools/docs.js';
import { diagnosticCodes } from '../../src/compiler/diagnostics.js';
import { constructors, declSchemas } from '../../src/compiler/schema.js';

const stale = (file: string) =>
  `${file} is out of date with the code; regenerate it with \`${REGENERATE_COMMAND}\` (tsc + node dist/test/tools/gen-docs.js) and commit the result`;

test('docs/language.md: the generated reference matches the parameter table', () => {
  const committed = readFileSync(docPaths.language, 'utf8');
  const section = generatedSection(committed);
  assert.ok(section !== undefined, `docs/language.md lacks the markers ${BEGIN_MARKER} … ${END_MARKER}`);
  assert.ok(section === languageReference().trim(), stale('the reference section of docs/language.md'));
});

test('docs/language.md: hand-written prose surrounds the generated part', () => {
  const committed = readFileSync(docPaths.language, 'utf8');
  const before = committed.slice(0, committed.indexOf(BEGIN_MARKER));
  for (const topic of ['import', 'preset', 'unit', 'block', 'shortcut', 'map', 'fidelity', 'sweep', 'zip', 'seed']) {
    assert.ok(before.includes(topic), `the guide part of docs/language.md should cover ${topic}`);
  }
  // Splicing is idempotent and keeps the prose byte for byte.
  assert.equal(
    spliceReference(committed),
    committed.replace(/<!-- BEGIN GENERATED REFERENCE -->[\s\S]*<!-- END GENERATED REFERENCE -->/, `${BEGIN_MARKER}\n${languageReference()}\n${END_MARKER}`),
  );
  assert.equal(spliceReference(spliceReference(committed)), spliceReference(committed));
});

test('the reference names every declaration field and every constructor', () => {
  const reference = languageReference();
  for (const schema of Object.values(declSchemas))
    for (const p of schema.params) assert.ok(reference.includes(`| \`${p.name}\` |`), `${schema.name}.${p.name}`);
  for (const c of constructors) {
    assert.ok(reference.includes(`#### \`${c.name}\``), `constructor ${c.name}`);
    for (const p of c.params) assert.ok(reference.includes(`| \`${p.name}\` |`), `${c.name}.${p.name}`);
  }
  // Defaults are shown in the unit they are written in, not in SI.
  assert.match(reference, /\| `r_on` \| resistance \| kOhm \| `100 kOhm` \| > 0 \|/);
  assert.match(reference, /`calibrate\(percentile = 99\.9 %\)`/);
});

test('docs/diagnostics.md matches the diagnostics registry', () => {
  const committed = readFileSync(docPaths.diagnostics, 'utf8');
  assert.ok(committed === diagnosticsDoc(), stale('docs/diagnostics.md'));
  for (const code of Object.keys(diagnosticCodes)) assert.ok(committed.includes(`\`${code}\``), code);
});

test('docs/syntax-diagrams.html matches the grammar and works offline', () => {
  const committed = readFileSync(docPaths.diagrams, 'utf8');
  assert.ok(committed === syntaxDiagramsHtml(), stale('docs/syntax-diagrams.html'));
  assert.doesNotMatch(committed, /<script[^>]+src=|<link[^>]+href=/i, 'no external scripts or stylesheets');
  assert.equal((committed.match(/<script>/g) ?? []).length, (committed.match(/<\/script>/g) ?? []).length);
  assert.match(committed, /drawDiagramsFromSerializedGrammar/);
  assert.match(committed, /"name": "sweepStatement"/);
});
