// The JavaScript snippets of docs/node.md, executed in order in one working directory (as a
// reader would run them) with a `docs/` folder of real corpus files.
//
// Each ```js block runs as its own script (ESM, or CommonJS when it calls require()), with the
// module name 'itassist' pointed at this package. The answer snippet talks to a real model
// server: the test starts llama.cpp's llama-server and, because that server speaks the
// OpenAI-compatible API rather than Ollama's, rewrites `http://localhost:11434` to its URL
// and `backend: 'ollama'` to `backend: 'openai'`. Nothing else is changed.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'

import { corpusFile, nodeDir, repoRoot, startLlamaServer, tempDir } from './helpers.mjs'

const run = promisify(execFile)
const markdown = fs.readFileSync(path.join(repoRoot, 'docs', 'node.md'), 'utf8')
const snippets = [...markdown.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])
const entry = path.join(nodeDir, 'index.js')

describe('docs/node.md snippets', () => {
  let server
  const cwd = tempDir('itassist-readme-')

  before(async () => {
    fs.mkdirSync(path.join(cwd, 'docs'))
    for (const file of [
      ['debdocs', 'man', 'openssh', 'scp.1'],
      ['debdocs', 'man', 'openssh', 'ssh_config.5'],
      ['debdocs', 'pdf', 'refcard-en-a4.pdf'],
    ]) {
      fs.copyFileSync(corpusFile(...file), path.join(cwd, 'docs', file.at(-1)))
    }
    server = await startLlamaServer()
  })

  after(() => server?.stop())

  test('docs/node.md has the snippets this test expects', () => {
    assert.ok(snippets.length >= 5, `${snippets.length} js blocks`)
  })

  snippets.forEach((source, i) => {
    const firstLine = source.split('\n').find((l) => l.trim() && !l.startsWith('import'))
    test(`snippet ${i + 1}: ${firstLine.trim().slice(0, 60)}`, async () => {
      const commonjs = /\brequire\(/.test(source)
      const code = source
        .replaceAll(`from 'itassist'`, `from ${JSON.stringify(pathToFileURL(entry).href)}`)
        .replaceAll(`require('itassist')`, `require(${JSON.stringify(entry)})`)
        .replaceAll('http://localhost:11434', server.url)
        .replaceAll(`backend: 'ollama'`, `backend: 'openai'`)
      const file = path.join(cwd, `snippet-${i + 1}.${commonjs ? 'cjs' : 'mjs'}`)
      fs.writeFileSync(file, code)
      const { stdout } = await run(process.execPath, [file], { cwd, timeout: 300_000 })
      assert.ok(stdout.length > 0, 'the snippet printed nothing')
    })
  })
})
