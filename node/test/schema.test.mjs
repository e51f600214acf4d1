// index.d.ts and lib/enums.js against the one source of truth, spec/openapi.json (generated from
// the Rust types): every object schema is an interface with the same properties, the same
// optionality, `null` only where the document allows it and the same type family; every enum has
// exactly the document's values. Deliberate deviations sit in DEVIATIONS, each with its reason;
// anything else is drift. The declarations are read with the TypeScript compiler API.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import ts from 'typescript';

const require = createRequire(import.meta.url);
const runtimeEnums = require('../lib/enums.js');
const spec = JSON.parse(readFileSync(new URL('../../spec/openapi.json', import.meta.url), 'utf8'));
const schemas = spec.components.schemas;
const dtsPath = fileURLToPath(new URL('../index.d.ts', import.meta.url));
const source = ts.createSourceFile(dtsPath, readFileSync(dtsPath, 'utf8'), ts.ScriptTarget.Latest, true);

/**
 * The one allow-list: every way index.d.ts or lib/enums.js deliberately differs from the
 * document, as `finding → reason`. A finding is named as the test reports it; an entry whose
 * finding no longer occurs fails too, so the list never outlives its reasons.
 */
const DEVIATIONS = {
  'Volume: interface VolumeRecord': 'the name `Volume` is the disk-volume handle class',
  'ProcessList: no interface': '`Sandbox.processes()` returns Process handles',
  'ProcessRequest: no interface': 'built by `Sandbox.start` from its command and StartOptions',
  'ServerExtensions: no interface': 'read and cached by the core; not part of the Node surface',
  'SignalRequest: no interface': 'built by `Process.kill(signal)`',
  'ProcessState: no runtime enum': 'an extension the official TS SDK lacks: a string-literal type only',
};

/** Deviations found so far, checked against DEVIATIONS at the end. */
const found = new Set();

/** Records `finding`; fails unless it is allow-listed. */
function deviation(finding, detail = '') {
  found.add(finding);
  assert.ok(finding in DEVIATIONS, `${finding}${detail ? ` (${detail})` : ''}: not in DEVIATIONS`);
}

const refName = (ref) => ref.slice(ref.lastIndexOf('/') + 1);

/** The interface that stands for the schema `name`: its own name unless renamed. */
function interfaceName(name) {
  const renamed = Object.keys(DEVIATIONS).find((key) => key.startsWith(`${name}: interface `));
  if (!renamed) return name;
  found.add(renamed);
  return renamed.slice(`${name}: interface `.length);
}

/** `{ nullable, family }` of a property schema; the family names types as TS does. */
function specShape(property) {
  if (property.$ref) return { nullable: false, family: interfaceName(refName(property.$ref)) };
  if (property.anyOf) {
    const others = property.anyOf.filter((option) => option.type !== 'null');
    assert.equal(others.length, 1, `unexpected anyOf: ${JSON.stringify(property)}`);
    return { nullable: others.length < property.anyOf.length, family: specShape(others[0]).family };
  }
  const types = [property.type].flat();
  const nullable = types.includes('null');
  const [type, ...more] = types.filter((t) => t !== 'null');
  assert.equal(more.length, 0, `unexpected type: ${JSON.stringify(property)}`);
  switch (type) {
    case 'string':
    case 'boolean':
      return { nullable, family: type };
    case 'integer':
    case 'number':
      return { nullable, family: 'number' };
    case 'array':
      return { nullable, family: `${specShape(property.items).family}[]` };
    case 'object':
      assert.ok(property.additionalProperties, `an inline object without additionalProperties: ${JSON.stringify(property)}`);
      return { nullable, family: `Record<string, ${specShape(property.additionalProperties).family}>` };
    default:
      throw new Error(`unexpected schema type: ${JSON.stringify(property)}`);
  }
}

/** `{ nullable, family }` of a declared property type, in the same terms as specShape. */
function tsShape(node) {
  if (ts.isParenthesizedTypeNode(node)) return tsShape(node.type);
  if (ts.isUnionTypeNode(node)) {
    const isNull = (t) => ts.isLiteralTypeNode(t) && t.literal.kind === ts.SyntaxKind.NullKeyword;
    const others = node.types.filter((t) => !isNull(t));
    const families = [...new Set(others.map((t) => tsShape(t).family))];
    return { nullable: others.length < node.types.length, family: families.join(' | ') };
  }
  switch (node.kind) {
    case ts.SyntaxKind.StringKeyword:
      return { nullable: false, family: 'string' };
    case ts.SyntaxKind.NumberKeyword:
      return { nullable: false, family: 'number' };
    case ts.SyntaxKind.BooleanKeyword:
      return { nullable: false, family: 'boolean' };
    default:
  }
  if (ts.isArrayTypeNode(node)) return { nullable: false, family: `${tsShape(node.elementType).family}[]` };
  if (ts.isTypeReferenceNode(node)) {
    const name = node.typeName.getText(source);
    const args = (node.typeArguments ?? []).map((t) => tsShape(t).family);
    if (name === 'Array') return { nullable: false, family: `${args[0]}[]` };
    if (name === 'Record') return { nullable: false, family: `Record<${args.join(', ')}>` };
    return { nullable: false, family: name };
  }
  return { nullable: false, family: node.getText(source) };
}

/** The exported interfaces of index.d.ts: name → Map(property → { optional, shape }). */
function declaredInterfaces() {
  const out = new Map();
  for (const statement of source.statements) {
    if (!ts.isInterfaceDeclaration(statement)) continue;
    const properties = new Map();
    for (const member of statement.members) {
      if (!ts.isPropertySignature(member) || !member.type) continue;
      properties.set(member.name.getText(source), { optional: Boolean(member.questionToken), shape: tsShape(member.type) });
    }
    out.set(statement.name.text, properties);
  }
  return out;
}

/** The string-literal values of the exported type alias `name` in index.d.ts, or null. */
function declaredLiteralUnion(name) {
  const alias = source.statements.find((s) => ts.isTypeAliasDeclaration(s) && s.name.text === name);
  if (!alias || !ts.isUnionTypeNode(alias.type)) return null;
  return alias.type.types.map((t) => (ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal) ? t.literal.text : t.getText(source)));
}

const objectSchemas = Object.keys(schemas).filter((name) => schemas[name].properties).sort();
const enumSchemas = Object.keys(schemas).filter((name) => schemas[name].enum).sort();

/** Compares one schema with its interface; records deviations. */
function checkObject(name, interfaces) {
  const declared = interfaces.get(interfaceName(name));
  if (!declared) {
    deviation(`${name}: no interface`);
    return;
  }
  const schema = schemas[name];
  const required = new Set(schema.required ?? []);
  for (const [property, definition] of Object.entries(schema.properties)) {
    const field = `${name}.${property}`;
    const ours = declared.get(property);
    if (!ours) {
      deviation(`${field}: missing`);
      continue;
    }
    const expected = specShape(definition);
    if (ours.optional !== !required.has(property)) {
      deviation(`${field}: ${ours.optional ? 'optional' : 'required'}`, `the document has it ${required.has(property) ? 'required' : 'optional'}`);
    }
    // Absent and null mean the same to the core; a required nullable field must admit null.
    if (ours.shape.nullable && !expected.nullable) deviation(`${field}: null`, 'the document never sends null');
    if (expected.nullable && required.has(property) && !ours.shape.nullable) deviation(`${field}: not null`);
    if (ours.shape.family !== expected.family) {
      deviation(`${field}: type`, `declared ${ours.shape.family}, the document has ${expected.family}`);
    }
  }
  for (const property of declared.keys()) {
    if (!(property in schema.properties)) deviation(`${name}.${property}: extra`);
  }
}

test('every object schema is an interface with the same properties, optionality and types', () => {
  const interfaces = declaredInterfaces();
  assert.ok(objectSchemas.length >= 40, `only ${objectSchemas.length} object schemas read`);
  assert.ok(interfaces.size >= 40, `only ${interfaces.size} interfaces read from index.d.ts`);
  const failures = [];
  for (const name of objectSchemas) {
    try {
      checkObject(name, interfaces);
    } catch (error) {
      failures.push(error.message);
    }
  }
  assert.deepEqual(failures, []);
});

test('every enum schema has exactly its values in lib/enums.js', () => {
  assert.ok(enumSchemas.length >= 15, `only ${enumSchemas.length} enum schemas read`);
  const failures = [];
  for (const name of enumSchemas) {
    const values = [...schemas[name].enum].sort();
    const runtime = runtimeEnums[name];
    if (!runtime) {
      try {
        deviation(`${name}: no runtime enum`);
      } catch (error) {
        failures.push(error.message);
        continue;
      }
      // Typed only: the declared string-literal type carries the values instead.
      const declared = declaredLiteralUnion(name);
      if (!declared) failures.push(`${name}: no type alias of string literals in index.d.ts`);
      else if (JSON.stringify([...declared].sort()) !== JSON.stringify(values)) {
        failures.push(`${name}: index.d.ts has ${declared}, the document has ${values}`);
      }
      continue;
    }
    const ours = Object.values(runtime).sort();
    if (JSON.stringify(ours) !== JSON.stringify(values)) {
      failures.push(`${name}: lib/enums.js has ${ours}, the document has ${values}`);
    }
  }
  const extra = Object.keys(runtimeEnums).filter((name) => !schemas[name]?.enum);
  if (extra.length) failures.push(`enums the document lacks: ${extra}`);
  assert.deepEqual(failures, []);
});

test('every allow-listed deviation still occurs', () => {
  // Runs after the two checks above (node --test runs a file's tests in order).
  const stale = Object.keys(DEVIATIONS).filter((finding) => !found.has(finding));
  assert.deepEqual(stale, [], 'remove these entries from DEVIATIONS');
  for (const [finding, reason] of Object.entries(DEVIATIONS)) {
    assert.ok(reason.length > 10, `${finding}: give a reason`);
  }
});
