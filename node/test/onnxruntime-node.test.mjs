// ONNX Runtime found automatically from the `onnxruntime-node` dependency, without
// ORT_DYLIB_PATH: run a child process without it and check which library it loaded.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { createRequire } from 'node:module'

import { nodeDir, tempDir } from './helpers.mjs'

const require = createRequire(import.meta.url)

test('onnxruntime-node ships ONNX Runtime >= 1.24', () => {
  const main = require.resolve('onnxruntime-node', { paths: [nodeDir] })
  let dir = path.dirname(main)
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir)
  const { version } = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
  const [major, minor] = version.split('.').map(Number)
  assert.ok(major > 1 || (major === 1 && minor >= 24), `onnxruntime-node ${version}`)
  assert.ok(fs.existsSync(path.join(dir, 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1')))
})

test('without ORT_DYLIB_PATH the library of onnxruntime-node is loaded', () => {
  const script = `
    const fs = require('node:fs')
    const { Assistant } = require(${JSON.stringify(path.join(nodeDir, 'index.js'))})
    // The fp32 model, whose first component is sentence-transformers' reference value.
    Assistant.open({ dataDir: ${JSON.stringify(path.join(tempDir(), 'data'))}, embeddingModel: 'all-MiniLM-L6-v2' }).then(async (a) => {
      const v = await a.embed(['The cat sits on the mat'])
      const maps = fs.readFileSync('/proc/self/maps', 'utf8')
      const libs = [...new Set(maps.split('\\n').filter((l) => l.includes('libonnxruntime')).map((l) => l.split(/\\s+/).pop()))]
      console.log(JSON.stringify({ first: v[0], libs }))
    }, (e) => { console.error(e.code, e.message); process.exit(1) })
  `
  const env = { ...process.env }
  delete env.ORT_DYLIB_PATH
  const out = execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8' })
  const { first, libs } = JSON.parse(out.trim().split('\n').pop())
  assert.ok(Math.abs(first - 0.13489) < 1e-3, String(first))
  assert.equal(libs.length, 1, libs.join(', '))
  assert.match(libs[0], /node_modules\/onnxruntime-node\/bin\/napi-v6\/linux\/x64\/libonnxruntime\.so\.1$/)
})

test('an explicit onnxRuntime that does not exist rejects with runtime_unavailable', () => {
  const script = `
    const { Assistant } = require(${JSON.stringify(path.join(nodeDir, 'index.js'))})
    Assistant.open({ dataDir: ${JSON.stringify(path.join(tempDir(), 'data'))}, onnxRuntime: '/nonexistent/libonnxruntime.so' })
      .then(() => console.log('opened'), (e) => console.log(e.code))
  `
  const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })
  assert.equal(out.trim(), 'runtime_unavailable')
})
