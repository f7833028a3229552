// examples/node/quickstart.mjs runs: without a model server it still ingests and searches,
// and reports ollama_unreachable; with llama-server it streams an answer.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import path from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'

import { closedPort, corpusFile, repoRoot, startLlamaServer } from './helpers.mjs'

const run = promisify(execFile)
const script = path.join(repoRoot, 'examples', 'node', 'quickstart.mjs')

test('quickstart without a model server', async () => {
  const port = await closedPort()
  const env = { ...process.env, OLLAMA_HOST: `http://127.0.0.1:${port}` }
  delete env.ITASSIST_DATA_DIR
  // The corpus's 13 OpenSSH man pages, named explicitly (the example's default is the
  // machine's own man pages, which vary from machine to machine).
  const openssh = path.dirname(corpusFile('debdocs', 'man', 'openssh', 'scp.1'))
  const { stdout } = await run(process.execPath, [script, openssh], { env, timeout: 300_000 })
  assert.match(stdout, /ingested: 13 added/)
  assert.match(stdout, /search: How do I copy a directory/)
  // scp(1) and sftp(1) both copy directories to another host (`-r`): either answers it.
  assert.match(stdout, / [123]\. [0-9.]+ s(cp|ftp)\.1/)
  assert.match(stdout, /no answer: \[ollama_unreachable\]/)
  assert.match(stdout, /index: 13 documents/)
})

test('quickstart with llama-server answers', async () => {
  const server = await startLlamaServer()
  try {
    const env = { ...process.env, OLLAMA_HOST: server.url, ITASSIST_BACKEND: 'openai' }
    delete env.ITASSIST_DATA_DIR
    const scp = corpusFile('debdocs', 'man', 'openssh', 'scp.1')
    const { stdout } = await run(process.execPath, [script, scp, '--question', 'What does scp do?'], {
      env,
      timeout: 300_000,
    })
    assert.match(stdout, /models: /)
    assert.match(stdout, /answer: \S/)
  } finally {
    server.stop()
  }
})
