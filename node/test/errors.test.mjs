// Errors: rejected Promises with Error objects carrying the core's `code` and the cause chain.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { before, describe, test } from 'node:test'

import { closedPort, corpusFile, itassist, options, rejectsWithCode, tempDir } from './helpers.mjs'

const { Assistant } = itassist

describe('errors', () => {
  let assistant
  let port

  before(async () => {
    port = await closedPort()
    assistant = await Assistant.open(
      options({ ollamaUrl: `http://127.0.0.1:${port}`, connectTimeoutSecs: 2 }),
    )
    await assistant.ingest(corpusFile('debdocs', 'man', 'openssh', 'scp.1'))
  })

  test('an empty query rejects with invalid_input', async () => {
    const error = await rejectsWithCode(assistant.search('   '), 'invalid_input')
    assert.match(error.message, /query is empty/)
  })

  test('k = 0 rejects with invalid_input', async () => {
    await rejectsWithCode(assistant.search('scp', 0), 'invalid_input')
  })

  test('removing an unknown document rejects with document_not_found', async () => {
    const error = await rejectsWithCode(assistant.remove(987654), 'document_not_found')
    assert.match(error.message, /987654/)
  })

  test('a bad modelDir rejects with embedding_model_unavailable', async () => {
    const modelDir = path.join(tempDir(), 'no-model-here')
    const error = await rejectsWithCode(
      Assistant.open(options({ modelDir })),
      'embedding_model_unavailable',
    )
    assert.match(error.message, /model/)
  })

  test('invalid options reject with invalid_input', async () => {
    await rejectsWithCode(Assistant.open(options({ chunkTokens: 4 })), 'invalid_input')
    await rejectsWithCode(Assistant.open(options({ backend: 'carrier-pigeon' })), 'invalid_input')
    await rejectsWithCode(Assistant.open({ dataDir: '' }), 'invalid_input')
  })

  test('wrong argument types throw a TypeError-like napi error', async () => {
    await assert.rejects(async () => assistant.search(42), /string|String/)
  })

  test('ingest failures are in the report with their code', async () => {
    const dir = tempDir()
    const truncated = path.join(dir, 'truncated.pdf')
    const pdf = fs.readFileSync(corpusFile('debdocs', 'pdf', 'refcard-en-a4.pdf'))
    fs.writeFileSync(truncated, pdf.subarray(0, 2000))
    const exe = path.join(dir, 'tool.exe')
    fs.writeFileSync(exe, Buffer.from([0x4d, 0x5a, 0x90, 0, 3, 0, 0, 0]))
    const docx = path.join(dir, 'text.docx')
    fs.writeFileSync(docx, 'just some text, not a zip')
    const report = await assistant.ingest([truncated, exe, docx])
    assert.equal(report.totals.failed, 3)
    const code = (name) => report.files.find((f) => f.path.endsWith(name)).error.code
    assert.equal(code('truncated.pdf'), 'corrupt_document')
    assert.equal(code('text.docx'), 'corrupt_document')
    assert.equal(code('tool.exe'), 'unsupported_format')
    for (const file of report.files) {
      assert.equal(file.status, 'failed')
      assert.ok(file.error.message.includes(path.basename(file.path)), file.error.message)
    }
  })

  test('a missing path is a failed file with path_not_found', async () => {
    const report = await assistant.ingest([path.join(tempDir(), 'nope.pdf')])
    assert.equal(report.files[0].error.code, 'path_not_found')
  })

  test('ask against a closed port rejects with ollama_unreachable and the cause chain', async () => {
    const error = await rejectsWithCode(assistant.ask('How do I copy a file with scp?'), 'ollama_unreachable')
    assert.ok(error instanceof Error)
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`))
    // The cause chain: the core's message, then the HTTP client's error(s).
    assert.ok(error.message.split(': ').length > 2, error.message)
  })

  test('models against a closed port rejects with ollama_unreachable', async () => {
    await rejectsWithCode(assistant.models(), 'ollama_unreachable')
  })

  test('askStream against a closed port rejects the first next() and ends', async () => {
    const stream = assistant.askStream('How do I copy a file with scp?')
    const iterator = stream[Symbol.asyncIterator]()
    await rejectsWithCode(iterator.next(), 'ollama_unreachable')
    const after = await iterator.next()
    assert.equal(after.done, true)
  })

  test('askStream with an empty question rejects with invalid_input', async () => {
    const seen = []
    const error = await rejectsWithCode(
      (async () => {
        for await (const event of assistant.askStream('')) seen.push(event)
      })(),
      'invalid_input',
    )
    assert.equal(seen.length, 0)
    assert.match(error.message, /question is empty/)
  })
})
