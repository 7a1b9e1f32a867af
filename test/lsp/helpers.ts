/** Cursor-marker fixtures for the language-service tests: `<|>` in a string marks the position. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Position } from '../../src/lsp/services/index.js';

export const CURSOR = '<|>';

export function withCursor(source: string): { text: string; position: Position; offset: number } {
  const offset = source.indexOf(CURSOR);
  if (offset < 0) throw new Error('fixture has no <|> cursor marker');
  const text = source.slice(0, offset) + source.slice(offset + CURSOR.length);
  const before = text.slice(0, offset).split('\n');
  return { text, position: { line: before.length - 1, character: before[before.length - 1]!.length }, offset };
}

/** A scratch folder for fixture files (imports relative to the document resolve inside it). */
export function scratchDir(): string {
  return mkdtempSync(join(tmpdir(), 'xbarc-lsp-'));
}

/** The 0-based position of the first occurrence of `needle` (plus `delta` characters) in `text`. */
export function positionOf(text: string, needle: string, delta = 0): Position {
  const offset = text.indexOf(needle);
  if (offset < 0) throw new Error(`"${needle}" not found`);
  const before = text.slice(0, offset + delta).split('\n');
  return { line: before.length - 1, character: before[before.length - 1]!.length };
}

export const TXSIM_SPEC = `import { AgSi_TxSim } from "std/devices"
import { txsim64 } from "std/crossbars"
import { LeNet5 } from "std/networks"

device rram = AgSi_TxSim {
  d2d_sigma = 3 %
  r_on      = 120 kOhm
}

crossbar xb64 = txsim64 {
  device  = rram
  mapping = differential
  adc     = { bits = 8 }
}

experiment txsim_lenet5 {
  data     = mnist(train = 8000, test = 2000)
  model    = LeNet5(classes = 10)
  map      * -> xb64, fc3 -> digital
  fidelity = fast
  train {
    epochs    = 5
    optimizer = sgd(lr = 0.05, momentum = 0.9)
  }
  sweep    xb64.adc.bits in [4, 6, 8]
  seed     = 7
}
`;
