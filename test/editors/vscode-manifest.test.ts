/**
 * The VS Code extension's manifest: settings that name a program to run must not come from a
 * workspace (a cloned repository's .vscode/settings.json would otherwise run any binary), and
 * untrusted workspaces get the limited mode with those settings restricted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/compiler/resolve.js';

interface Manifest {
  capabilities?: { untrustedWorkspaces?: { supported?: unknown; restrictedConfigurations?: string[]; description?: string } };
  contributes: { configuration: { properties: Record<string, { scope?: string }> } };
}

const manifest = JSON.parse(readFileSync(join(packageRoot, 'editors', 'vscode', 'package.json'), 'utf8')) as Manifest;
const EXECUTABLES = ['xbar.server.path', 'xbar.server.node'];

test('the settings naming executables are machine-scoped: no workspace settings file can set them', () => {
  const props = manifest.contributes.configuration.properties;
  for (const key of EXECUTABLES) assert.equal(props[key]?.scope, 'machine', key);
});

test('untrusted workspaces: limited support, with the executable settings restricted and a description', () => {
  const u = manifest.capabilities?.untrustedWorkspaces;
  assert.equal(u?.supported, 'limited');
  assert.deepEqual([...(u?.restrictedConfigurations ?? [])].sort(), [...EXECUTABLES].sort());
  assert.ok((u?.description ?? '').length > 20, 'a description says what is limited');
});
