// index.d.ts matches the runtime: the same value exports, and for every exported class the same
// methods and accessors (read from the declarations with the TypeScript compiler API).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import ts from 'typescript';

const require = createRequire(import.meta.url);
const runtime = require('porter-sandbox');
const dts = fileURLToPath(new URL('../index.d.ts', import.meta.url));

const program = ts.createProgram([dts], { strict: true, noEmit: true, types: ['node'] });
const checker = program.getTypeChecker();
const source = program.getSourceFile(dts);
const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(source));

function declaredMembers(symbol) {
  const type = checker.getDeclaredTypeOfSymbol(symbol);
  const members = { methods: new Set(), accessors: new Set(), properties: new Set() };
  for (const property of checker.getPropertiesOfType(type)) {
    for (const declaration of property.getDeclarations() ?? []) {
      if (declaration.getSourceFile() !== source) continue;
      // `[Symbol.asyncDispose]()` is named by its source text, as runtimeMembers names it.
      const name = ts.isComputedPropertyName(declaration.name) ? declaration.name.getText(source) : property.name;
      if (ts.isMethodDeclaration(declaration)) members.methods.add(name);
      else if (ts.isGetAccessorDeclaration(declaration)) members.accessors.add(property.name);
      else if (ts.isPropertyDeclaration(declaration)) members.properties.add(property.name);
    }
  }
  return members;
}

function runtimeMembers(Class) {
  const members = { methods: new Set(), accessors: new Set() };
  for (let proto = Class.prototype; proto && proto !== Object.prototype && proto !== Error.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const [name, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      if (name === 'constructor') continue;
      if (descriptor.get) members.accessors.add(name);
      else if (typeof descriptor.value === 'function') members.methods.add(name);
    }
    for (const name of ['asyncDispose', 'dispose', 'asyncIterator', 'iterator']) {
      if (Symbol[name] && typeof Object.getOwnPropertyDescriptor(proto, Symbol[name])?.value === 'function') {
        members.methods.add(`[Symbol.${name}]`);
      }
    }
  }
  return members;
}

const sorted = (set) => [...set].sort();

test('the declared value exports are exactly the runtime exports', () => {
  const declared = exported.filter((s) => s.flags & ts.SymbolFlags.Value).map((s) => s.name);
  assert.deepEqual(declared.sort(), Object.keys(runtime).sort());
});

test('every declaration file type-checks on its own (strict)', () => {
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  assert.deepEqual(diagnostics, []);
});

test('every exported class has the declared methods and accessors, and no others', () => {
  const classes = exported.filter((s) => s.flags & ts.SymbolFlags.Class);
  assert.ok(classes.length >= 20);
  for (const symbol of classes) {
    const declared = declaredMembers(symbol);
    const actual = runtimeMembers(runtime[symbol.name]);
    assert.deepEqual(sorted(actual.methods), sorted(declared.methods), `${symbol.name} methods`);
    assert.deepEqual(sorted(actual.accessors), sorted(declared.accessors), `${symbol.name} accessors`);
  }
});

test('declared properties exist on instances', () => {
  process.env.PORTER_SANDBOX_BASE_URL ??= 'http://127.0.0.1:9';
  const instances = {
    Porter: new runtime.Porter({ baseUrl: 'http://127.0.0.1:9' }),
    PorterSandboxApiClient: new runtime.PorterSandboxApiClient({ baseUrl: 'http://127.0.0.1:9' }),
    SandboxError: new runtime.SandboxError('x'),
    NotFoundError: new runtime.NotFoundError('x', { statusCode: 404 }),
    SandboxTimeoutError: new runtime.SandboxTimeoutError('x'),
    VolumeFile: new runtime.VolumeFile({ name: 'a', path: '/a', type: 'file', sizeBytes: 1, modifiedAt: null }),
  };
  for (const [name, instance] of Object.entries(instances)) {
    const symbol = exported.find((s) => s.name === name);
    for (const property of declaredMembers(symbol).properties) {
      assert.ok(property in instance, `${name}.${property}`);
    }
  }
  const enums = exported.filter((s) => s.flags & ts.SymbolFlags.TypeAlias && s.flags & ts.SymbolFlags.Value);
  assert.equal(enums.length, 16);
  for (const symbol of enums) {
    const declaration = symbol.valueDeclaration;
    const type = checker.getTypeOfSymbolAtLocation(symbol, declaration);
    const declared = Object.fromEntries(
      checker.getPropertiesOfType(type).map((p) => [p.name, checker.getTypeOfSymbolAtLocation(p, declaration).value]),
    );
    assert.deepEqual(declared, { ...runtime[symbol.name] }, symbol.name);
  }
});
