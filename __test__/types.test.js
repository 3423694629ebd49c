'use strict'
// lib/index.d.ts against what lib/index.js really exports and returns: the exported names, the option
// keys, the choices, and the fields of the objects status() and login() resolve with (from a real login
// against the fake server). The declaration file is parsed with the TypeScript compiler (a dependency of
// @napi-rs/cli) and type-checked, so it can neither drift nor rot. The result types it re-exports or extends
// come from the binding's generated ../index.d.ts (imported as `native`), which is read too.
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
const NATIVE_DTS = path.join(__dirname, '..', 'index.d.ts')
const parse = (file) => ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
const source = parse(DTS)

const exported = (node) => (ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Export) !== 0
/** The exported declarations of one .d.ts: values (functions, constants, re-exported values), interfaces, type aliases. */
function declarations(file) {
  const out = { values: new Set(), interfaces: new Map(), types: new Map() }
  for (const st of file.statements) {
    if (ts.isExportDeclaration(st) && !st.isTypeOnly && st.exportClause && ts.isNamedExports(st.exportClause)) {
      for (const el of st.exportClause.elements) if (!el.isTypeOnly) out.values.add(el.name.text)
    }
    if (!exported(st)) continue
    if (ts.isFunctionDeclaration(st)) out.values.add(st.name.text)
    else if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) out.values.add(d.name.text)
    else if (ts.isInterfaceDeclaration(st)) out.interfaces.set(st.name.text, st)
    else if (ts.isTypeAliasDeclaration(st)) out.types.set(st.name.text, st)
  }
  return out
}
const declared = declarations(source)
const generated = declarations(parse(NATIVE_DTS))

/** The interfaces `decl` extends: from this file, or `native.X` from the generated file. */
function bases(decl) {
  const names = (decl.heritageClauses || []).flatMap((h) =>
    h.types.map((t) => t.expression.getText(decl.getSourceFile())),
  )
  return names
    .map((n) =>
      n.startsWith('native.') ? generated.interfaces.get(n.slice('native.'.length)) : declared.interfaces.get(n),
    )
    .filter(Boolean)
}
/** Property names of an interface, including those it extends (a redeclared one counted once). */
function members(name) {
  const decl = declared.interfaces.get(name)
  assert.ok(decl, `lib/index.d.ts declares no interface ${name}`)
  const all = (d) => [...d.members.filter(ts.isPropertySignature).map((m) => m.name.text), ...bases(d).flatMap(all)]
  return [...new Set(all(decl))]
}
const ownMembers = (name) =>
  declared.interfaces
    .get(name)
    .members.filter(ts.isPropertySignature)
    .map((m) => m.name.text)
/** String literals of a union type alias ('a' | 'b'). */
function literals(name) {
  const decl = declared.types.get(name)
  assert.ok(decl, `lib/index.d.ts declares no type ${name}`)
  const types = ts.isUnionTypeNode(decl.type) ? decl.type.types : [decl.type]
  return types.filter((t) => ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal)).map((t) => t.literal.text)
}
/** String literals of a property's union type in an interface (its own, else the nearest base's). */
function propertyLiterals(iface, prop) {
  const find = (d) =>
    d.members.find((x) => ts.isPropertySignature(x) && x.name.text === prop) || bases(d).map(find).find(Boolean)
  const m = find(declared.interfaces.get(iface))
  const types = ts.isUnionTypeNode(m.type) ? m.type.types : [m.type]
  return types.filter((t) => ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal)).map((t) => t.literal.text)
}
const sorted = (xs) => [...xs].sort()

test('lib/index.d.ts type-checks', () => {
  const program = ts.createProgram([DTS], {
    noEmit: true,
    strict: true,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: [],
  })
  // The generated file it imports is checked too, except that it names Node's Buffer (@types/node is not here).
  const nodeBuffer = (d) => ts.flattenDiagnosticMessageText(d.messageText, '\n').startsWith("Cannot find name 'Buffer'")
  const diags = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => !nodeBuffer(d))
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
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

test("KimiError's code lists exactly the core's error codes (src/error.rs Code::ALL)", () => {
  // KIMI_OFFICIAL_PROFILE is the code of a process warning (the opt-in official identity), never of an Error.
  const errors = Object.values(kimi.ERROR_CODES).filter((c) => c !== kimi.ERROR_CODES.OFFICIAL_PROFILE)
  assert.equal(errors.length, Object.keys(kimi.ERROR_CODES).length - 1)
  assert.deepEqual(sorted(propertyLiterals('KimiError', 'code')), sorted(errors))
})

test(
  'Status and LoginResult declare exactly the fields a real status() / login() returns',
  { timeout: 30000 },
  async (t) => {
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
    assert.deepEqual(
      sorted(propertyLiterals('Status', 'store')),
      sorted(kimi.CHOICES.store.filter((k) => k !== 'auto')),
    )
  },
)
