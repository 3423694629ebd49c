#!/usr/bin/env node
'use strict'
// `npm install` hook. Installed from the registry, the prebuilt binary (an optional
// dependency) loads and nothing happens. In a clone with no binary yet, build from source.
const { existsSync } = require('node:fs')
const { join } = require('node:path')
const { spawnSync } = require('node:child_process')

const root = join(__dirname, '..')

function loads() {
  try {
    require(join(root, 'index.js')).constants()
    return true
  } catch {
    return false
  }
}

if (loads()) process.exit(0)
if (!existsSync(join(root, 'Cargo.toml'))) {
  console.warn(
    `kimi-native: no prebuilt binary for ${process.platform}-${process.arch} loaded, and this package has no sources to build. ` +
      'Supported: linux x64/arm64 (glibc), linux x64 (musl), macOS x64/arm64, Windows x64/arm64.',
  )
  process.exit(0)
}
const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' })
if (cargo.status !== 0) {
  console.error(
    'kimi-native: building from source needs the Rust toolchain (https://rustup.rs), then `npm install` again.',
  )
  process.exit(1)
}
console.log('kimi-native: building the native addon from source (first build takes a few minutes)...')
const napi = join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
const r = spawnSync(process.execPath, [napi, 'build', '--platform'], { cwd: root, stdio: 'inherit' })
process.exit(r.status === null ? 1 : r.status)
