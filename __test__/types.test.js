'use strict'
// lib/index.d.ts against what lib/index.js really exports and returns: the exported names, the option
// keys, the choices, and the fields of the objects status() and login() resolve with (from a real login
// against the fake server). The declaration file is parsed with the TypeScript compiler (a dependency of
// @napi-rs/cli) and type-checked, so it can neither drift nor rot.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const ts = require('typescript')
const kimi = require('../lib')
const { startFakeKimi } = require('./fake-kimi/server.js')
const { trustOrigins } = require('./helpers/env')

const DTS = path.join(__dirname, '..', 'lib', 'index.d.ts')
const source = ts.createSourceFile(DTS, fs.readFileSync(DTS, 'utf8'), ts.ScriptTarget.Latest, true)

const exported = (node) => (ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Export) !== 0
const declared = { values: new Set(), interfaces: new Map(), types: new Map() }
for (const st of source.statements) {
  if (!exported(st)) continue
  if (ts.isFunctionDeclaration(st)) declared.values.add(st.name.text)
  else if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) declared.values.add(d.name.text)
  else if (ts.isInterfaceDeclaration(st)) declared.interfaces.set(st.name.text, st)
  else if (ts.isTypeAliasDeclaration(st)) declared.types.set(st.name.text, st)
}

/** Property names of an interface, including those it extends from this file. */
function members(name) {
  const decl = declared.interfaces.get(name)
  assert.ok(decl, `lib/index.d.ts declares no interface ${name}`)
  const own = decl.members.filter(ts.isPropertySignature).map((m) => m.name.text)
  const inherited = (decl.heritageClauses || []).flatMap((h) => h.types.map((t) => t.expression.getText(source)))
  return [...own, ...inherited.filter((n) => declared.interfaces.has(n)).flatMap(members)]
}
const ownMembers = (name) => declared.interfaces.get(name).members.filter(ts.isPropertySignature).map((m) => m.name.text)
/** String literals of a union type alias ('a' | 'b'). */
function literals(name) {
  const decl = declared.types.get(name)
  assert.ok(decl, `lib/index.d.ts declares no type ${name}`)
  const types = ts.isUnionTypeNode(decl.type) ? decl.type.types : [decl.type]
  return types.filter((t) => ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal)).map((t) => t.literal.text)
}
/** String literals of a property's union type in an interface. */
function propertyLiterals(iface, prop) {
  const m = declared.interfaces.get(iface).members.find((x) => ts.isPropertySignature(x) && x.name.text === prop)
  const types = ts.isUnionTypeNode(m.type) ? m.type.types : [m.type]
  return types.filter((t) => ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal)).map((t) => t.literal.text)
}
const sorted = (xs) => [...xs].sort()

test('lib/index.d.ts type-checks', () => {
  const program = ts.createProgram([DTS], { noEmit: true, strict: true, lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], types: [] })
  const diags = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
  assert.deepEqual(diags, [])
})

test('every export of lib/index.js is declared, and nothing else', () => {
  assert.deepEqual(sorted(declared.values), sorted(Object.keys(kimi)))
})

test('KimiOptions has exactly the core option keys; KimiFetchOptions adds exactly the fetch keys', () => {
  // onWarning is a JS callback handled in lib/index.js; it never reaches the core.
  const jsOnly = ['onWarning']
  assert.deepEqual(sorted(members('KimiOptions').filter((k) => !jsOnly.includes(k))), sorted(kimi.OPTION_KEYS))
  assert.deepEqual(sorted(ownMembers('KimiFetchOptions')), sorted(kimi.FETCH_OPTION_KEYS))
})

test('Profile, Region and StoreKind list exactly the choices the core accepts', () => {
  assert.deepEqual(literals('Profile'), [...kimi.CHOICES.profile])
  assert.deepEqual(literals('Region'), [...kimi.CHOICES.region])
  assert.deepEqual(literals('StoreKind'), [...kimi.CHOICES.store])
})

test('Status and LoginResult declare exactly the fields a real status() / login() returns', { timeout: 30000 }, async (t) => {
  const f = await startFakeKimi({ deviceInterval: 1, autoApprove: 0 })
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-native-types-'))
  t.after(async () => {
    await f.close()
    fs.rmSync(home, { recursive: true, force: true })
  })
  const opts = { oauthHost: f.oauthHost, baseUrl: f.baseUrl, home, store: 'file' }
  trustOrigins(t, f)
  const saved = process.env.KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS
  process.env.KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS = '1'
  t.after(() => {
    if (saved === undefined) delete process.env.KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS
    else process.env.KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS = saved
  })
  const before = await kimi.status(opts)
  const result = await kimi.login({ ...opts, onDeviceCode() {} })
  const after = await kimi.status(opts)
  assert.deepEqual(sorted(members('Status')), sorted(Object.keys(after)))
  assert.deepEqual(sorted(Object.keys(before)), sorted(Object.keys(after)), 'status() has one shape logged in or not')
  assert.deepEqual(sorted(members('LoginResult')), sorted(Object.keys(result)))
  for (const s of [before, after]) assert.ok(propertyLiterals('Status', 'store').includes(s.store), s.store)
  assert.ok(propertyLiterals('LoginResult', 'store').includes(result.store))
  assert.deepEqual(sorted(propertyLiterals('Status', 'store')), sorted(kimi.CHOICES.store.filter((k) => k !== 'auto')))
})
