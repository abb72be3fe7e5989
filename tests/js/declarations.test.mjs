// The hand-written .d.ts files describe the JavaScript beside them: every value
// a .d.ts declares is exported by its .js with a type that fits the declaration
// (a class: each declared member), and the .js exports nothing undeclared.
// `tsc` (tsconfig.json, checkJs) checks the code against the types it uses;
// this checks each module against its own declaration, which tsc does not do
// (an import of './client.js' always resolves to client.d.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const STATIC = path.join(ROOT, 'livechat_ext', 'static');

function loadProgram() {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  // index.d.ts is reached by no import: name every declaration as a root too.
  const declarations = readdirSync(STATIC).filter((f) => f.endsWith('.d.ts')).map((f) => path.join(STATIC, f));
  const program = ts.createProgram({ rootNames: [...config.fileNames, ...declarations], options: config.options });
  return { program, checker: program.getTypeChecker() };
}

const { program, checker } = loadProgram();

/** @returns {Map<string, ts.Symbol>} the value exports of a source file */
function valueExports(fileName) {
  const source = program.getSourceFile(fileName);
  assert.ok(source, `${path.relative(ROOT, fileName)} is not in tsconfig.json's program`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  assert.ok(moduleSymbol, `${fileName} is not a module`);
  const exports = new Map();
  for (let symbol of checker.getExportsOfModule(moduleSymbol)) {
    const name = symbol.getName();
    if (symbol.declarations?.some((d) => ts.isTypeOnlyExportDeclaration(d))) continue; // `export type {...}`
    if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    if (symbol.flags & ts.SymbolFlags.Value) exports.set(name, symbol);
  }
  return exports;
}

const typeOf = (symbol) => checker.getTypeOfSymbol(symbol);
const show = (type) => checker.typeToString(type, undefined, ts.TypeFormatFlags.NoTruncation);

/**
 * Whether an implementation fits an overloaded declaration: it takes the
 * parameters of the last (the general) overload and returns what that one
 * returns; the overloads before it only narrow it for callers.
 */
function fitsOverloads(actual, declared) {
  if (checker.isTypeAssignableTo(actual, declared)) return true;
  const mine = actual.getCallSignatures();
  const overloads = declared.getCallSignatures();
  const general = overloads[overloads.length - 1];
  if (mine.length !== 1 || general.getTypeParameters()?.length) return false;
  const takes = general.getParameters().every((param, i) => {
    const own = mine[0].getParameters()[i];
    return own !== undefined && checker.isTypeAssignableTo(typeOf(param), typeOf(own));
  });
  return takes && checker.isTypeAssignableTo(mine[0].getReturnType(), general.getReturnType());
}

/** Why `actual` does not fit `declared`, member by member for classes; [] when it fits. */
function misfits(name, actual, declared) {
  const problems = [];
  if (declared.getCallSignatures().length > 1) {
    return fitsOverloads(actual, declared) ? [] : [`${name}: ${show(actual)} does not fit ${show(declared)}`];
  }
  const declaredCtor = declared.getConstructSignatures();
  const actualCtor = actual.getConstructSignatures();
  if (declaredCtor.length > 0 && actualCtor.length > 0) {
    const declaredInstance = declaredCtor[0].getReturnType();
    const actualInstance = actualCtor[0].getReturnType();
    for (const member of declaredInstance.getProperties()) {
      const mine = actualInstance.getProperty(member.getName());
      const where = `${name}.${member.getName()}`;
      if (!mine) {
        problems.push(`${where} is declared but not implemented`);
        continue;
      }
      const want = typeOf(member);
      const got = typeOf(mine);
      const fits = want.getCallSignatures().length > 1 ? fitsOverloads(got, want) : checker.isTypeAssignableTo(got, want);
      if (!fits) problems.push(`${where}: ${show(got)} does not fit ${show(want)}`);
    }
  }
  if (problems.length === 0 && !checker.isTypeAssignableTo(actual, declared)) {
    problems.push(`${name}: ${show(actual)} does not fit ${show(declared)}`);
  }
  return problems;
}

const modules = readdirSync(STATIC)
  .filter((f) => f.endsWith('.js') && existsSync(path.join(STATIC, f.replace(/\.js$/, '.d.ts'))))
  .sort();

test('every module with a .d.ts is checked', () => {
  assert.ok(modules.includes('client.js') && modules.includes('useWebSocket.js'), modules.join(', '));
});

for (const file of modules) {
  test(`${file} implements ${file.replace(/\.js$/, '.d.ts')}`, () => {
    const actual = valueExports(path.join(STATIC, file));
    const declared = valueExports(path.join(STATIC, file.replace(/\.js$/, '.d.ts')));
    const problems = [];
    for (const name of declared.keys()) if (!actual.has(name)) problems.push(`${name} is declared but not exported`);
    for (const name of actual.keys()) if (!declared.has(name)) problems.push(`${name} is exported but not declared`);
    for (const [name, symbol] of declared) {
      if (actual.has(name)) problems.push(...misfits(name, typeOf(actual.get(name)), typeOf(symbol)));
    }
    assert.deepEqual(problems, []);
  });
}
