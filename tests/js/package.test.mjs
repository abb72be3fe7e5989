// The npm package's entry points resolve, by name, to the files the plugin serves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const STATIC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../livechat_ext/static');
const pkg = JSON.parse(readFileSync(path.join(STATIC, 'package.json'), 'utf8'));

for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (subpath === './package.json') continue;
  const specifier = pkg.name + subpath.slice(1);
  test(`import '${specifier}' is the served ${target.default}`, async () => {
    const resolved = fileURLToPath(import.meta.resolve(specifier));
    assert.equal(resolved, path.join(STATIC, target.default.slice(2)));
    const module = await import(specifier);
    assert.ok(Object.keys(module).length > 0);
  });
}

test('only useWebSocket.js imports a package (react): the rest loads in a page without a bundler', async () => {
  const { readdirSync } = await import('node:fs');
  const bare = {};
  for (const file of readdirSync(STATIC).filter((f) => f.endsWith('.js'))) {
    const source = readFileSync(path.join(STATIC, file), 'utf8');
    const specifiers = [...source.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    const packages = specifiers.filter((s) => !s.startsWith('./'));
    if (packages.length > 0) bare[file] = packages;
  }
  assert.deepEqual(bare, { 'useWebSocket.js': ['react'] });
});

test('Node loads the modules as ES modules because package.json says so, not by guessing', async () => {
  const { execFileSync } = await import('node:child_process');
  const { pathToFileURL } = await import('node:url');
  const entry = pathToFileURL(path.join(STATIC, 'index.js')).href;
  const script = `const m = await import(${JSON.stringify(entry)}); console.log(typeof m.LiveChatClient);`;
  const out = execFileSync(process.execPath, ['--no-experimental-detect-module', '--input-type=module', '-e', script]);
  assert.equal(out.toString().trim(), 'function');
});
