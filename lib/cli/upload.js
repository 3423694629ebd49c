'use strict'
// `kimi-native upload <file>`: a file to Kimi's Files API; prints its ms:// reference (issue #16).
const { core: kimi } = require('../kit/core.js')
const { dim, EXIT } = require('./io.js')
const { coreOpts, timeoutOpt, badInput } = require('./options.js')

const MIME_BY_EXT = Object.freeze({
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  pdf: 'application/pdf',
})

async function cmdUpload(file, opts) {
  const fs = require('node:fs')
  const path = require('node:path')
  const ext = path.extname(file).slice(1).toLowerCase()
  const mimeType = opts.mime || MIME_BY_EXT[ext]
  if (!mimeType) {
    throw badInput(`Cannot tell the type of ${path.basename(file)}: pass --mime (e.g. --mime image/png).`)
  }
  let data
  try {
    data = fs.readFileSync(file)
  } catch (e) {
    throw badInput(`Cannot read ${file}: ${e.code || e.message}.`)
  }
  const up = await kimi.uploadFile(data, { ...coreOpts(opts), ...timeoutOpt(opts), mimeType, purpose: opts.purpose })
  await kimi.settle()
  if (opts.json) console.log(JSON.stringify({ ...up, bytes: data.length, mimeType }, null, 2))
  else console.log(`${up.url}${up.cached ? dim(' (already uploaded)') : ''}`)
  return EXIT.ok
}

module.exports = { run: cmdUpload }
