import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { hover } from '../../src/lsp/services/index.js';
import { scratchDir, withCursor, TXSIM_SPEC } from './helpers.js';

const path = join(scratchDir(), 'spec.xbar');

function hoverAt(marked: string): string {
  const { text, position } = withCursor(marked);
  const h = hover(text, path, position);
  assert.ok(h, 'expected a hover');
  return h.contents;
}

function mark(needle: string, delta = 1): string {
  const i = TXSIM_SPEC.indexOf(needle);
  assert.ok(i >= 0, needle);
  return TXSIM_SPEC.slice(0, i + delta) + '<|>' + TXSIM_SPEC.slice(i + delta);
}

test('hover on a unit value shows it in the written unit and SI, the default, the range and the doc', () => {
  const h = hoverAt(mark('r_on      = 120'));
  assert.match(h, /\*\*r_on\*\*/);
  assert.match(h, /`120 kOhm` \(SI: 120000 Ohm\)/);
  assert.match(h, /Default: `100 kOhm`/);
  assert.match(h, /Range: > 0 Ohm/);
  assert.match(h, /Low-resistance \(fully on\) state/);
  assert.match(h, /Set here/);
});

test('hover on the value itself (the number) shows the field', () => {
  const h = hoverAt(mark('120 kOhm', 2));
  assert.match(h, /\*\*r_on\*\*/);
});

test('hover on a percent field shows the fraction and the percent', () => {
  const h = hoverAt(mark('d2d_sigma = 3'));
  assert.match(h, /`3 %` \(SI: 0.03\)/);
  assert.match(h, /Range: ≥ 0 % and < 100 %/);
});

test('a preset-inherited field shows the preset it came from', () => {
  // xb64.adc.range is not written in the file: it comes from std/crossbars' txsim64.
  const text = TXSIM_SPEC.replace('sweep    xb64.adc.bits', 'sweep    xb64.adc.range');
  const i = text.indexOf('adc.range') + 5;
  const h = hoverAt(text.slice(0, i) + '<|>' + text.slice(i));
  assert.match(h, /\*\*range\*\*/);
  assert.match(h, /calibrate\(percentile = 99.9 %\)/);
  assert.match(h, /Inherited from preset `txsim64` \(std\/crossbars:\d+\)/);
});

test('hover on a declaration lists its effective values and their origin', () => {
  const h = hoverAt(mark('xb64 = txsim64'));
  assert.match(h, /\*\*crossbar xb64\*\* = txsim64/);
  assert.match(h, /\| size \| `64 x 64` \| from txsim64 \|/);
  assert.match(h, /\| device \| `rram` \| here \|/);
});

test('hover on a stdlib preset name shows its values and its documentation comment', () => {
  const h = hoverAt(mark('AgSi_TxSim {', 2));
  assert.match(h, /\*\*device AgSi_TxSim\*\* · std\/devices:\d+/);
  assert.match(h, /TxSim's default Ag\/Si ReRAM/);
});

test('hover on a constructor, a unit and a map pattern', () => {
  assert.match(hoverAt(mark('sgd(', 1)), /\*\*sgd\*\*\(lr, momentum, nesterov, weight_decay\) · optimizer/);
  assert.match(hoverAt(mark('kOhm', 1)), /\*\*kOhm\*\* · unit of resistance: 1 kOhm = 1000 Ohm/);
  const pattern = hoverAt(mark('* -> xb64', 0));
  assert.match(pattern, /5 weighted layers of `LeNet5`/);
  assert.match(pattern, /`conv1` conv2d 1 x 28 x 28 → 6 x 28 x 28 ⇒ xb64/);
  assert.match(pattern, /`fc3` dense 84 → 10 ⇒ digital/);
});

test('hover on a sigmoid or tanh layer shows its documentation', () => {
  const net = 'network N {\n  input = 8\n  fc1 = dense(4)\n  sigmoid\n  fc2 = dense(4)\n  tanh\n  fc3 = dense(2)\n}\n';
  const at = (needle: string): string => hoverAt(net.replace(needle, `${needle.slice(0, 2)}<|>${needle.slice(2)}`));
  assert.match(at('sigmoid'), /\*\*sigmoid\*\*.*layer[\s\S]*streams unsigned inputs/);
  assert.match(at('tanh'), /\*\*tanh\*\*.*layer[\s\S]*streams signed inputs/);
});

test('hover on a constructor argument shows its parameter', () => {
  const h = hoverAt(mark('momentum = 0.9', 2));
  assert.match(h, /\*\*momentum\*\* · sgd parameter/);
  assert.match(h, /Value: `0.9`/);
  assert.match(h, /Default: `0`/);
  assert.match(h, /Range: ≥ 0 and < 1/);
});

test('hover on whitespace or broken text answers null without throwing', () => {
  assert.equal(hover(TXSIM_SPEC, path, { line: 3, character: 0 }), null);
  const { text, position } = withCursor('device d = {\n  r_on = <|>\n');
  assert.doesNotThrow(() => hover(text, path, position));
});
