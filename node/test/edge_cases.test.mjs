// The shared edge-case table (tests/edge_cases.json) through the Node package: the same
// outcome as the Rust core, Python and HTTP for the same input.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { before, describe, test } from 'node:test'

import { itassist, options, rejectsWithCode, repoRoot } from './helpers.mjs'

const { Assistant } = itassist
const table = JSON.parse(fs.readFileSync(path.join(repoRoot, 'tests', 'edge_cases.json'), 'utf8'))

function queryOf(c) {
  return c.query_repeat ? c.query_repeat[0].repeat(c.query_repeat[1]) : c.query
}

describe('edge cases shared by every door', () => {
  let assistant

  before(async () => {
    assistant = await Assistant.open(options())
    const report = await assistant.ingestBytes(table.document.name, Buffer.from(table.document.text))
    assert.equal(report.status, 'added')
  })

  for (const c of table.search) {
    test(`search: ${c.case}`, async () => {
      if (c.error) {
        await rejectsWithCode(assistant.search(queryOf(c), c.k), c.error)
      } else {
        const hits = await assistant.search(queryOf(c), c.k)
        assert.ok(hits.length >= c.ok.min_results)
        assert.equal(hits[0].name, c.ok.first_name)
      }
    })
  }

  for (const c of table.upload) {
    test(`upload: ${c.case}`, async () => {
      const report = await assistant.ingestBytes(c.name, Buffer.from(c.text))
      assert.equal(report.status, c.ok.status)
      assert.equal(report.document.name, c.ok.name)
    })
  }

  for (const c of table.ingest_path) {
    test(`ingest: ${c.case}`, async () => {
      const report = await assistant.ingest(c.path)
      assert.equal(report.files[0].error.code, c.file_error)
    })
  }
})

describe('errors carry their structured details', () => {
  test('embedding_model_mismatch names both models', async () => {
    const dataDir = options().dataDir
    const first = await Assistant.open({ dataDir })
    assert.ok(first.embeddingModel)
    // The fp32 model (provisioned beside the default int8 one) over the same index: same
    // dimensions, other vectors, so the core refuses, naming both and the fix.
    const error = await rejectsWithCode(
      Assistant.open({ dataDir, embeddingModel: 'all-MiniLM-L6-v2' }),
      'embedding_model_mismatch',
    )
    assert.equal(error.indexModel, first.embeddingModel)
    assert.equal(error.requestedModel, 'sentence-transformers/all-MiniLM-L6-v2')
    assert.match(error.message, /itassist reindex --model/)
    assert.equal(typeof error.indexDimensions, 'number')
    assert.ok(error.dataDir.endsWith('data'))
  })
})

describe('cancelling an ingest with an AbortSignal', () => {
  test('stops after the document in flight and keeps what was committed', async () => {
    const assistant = await Assistant.open(options())
    const docs = path.join(options().dataDir, '..', 'docs')
    fs.mkdirSync(docs, { recursive: true })
    const long = Array.from({ length: 300 }, (_, i) => `Section ${i}: sshd reads option ${i} from sshd_config at start.`).join(' ')
    fs.writeFileSync(path.join(docs, 'a-long.txt'), long)
    for (const name of ['b.md', 'c.md', 'd.md']) {
      fs.writeFileSync(path.join(docs, name), `${name}: copy your key with ssh-copy-id user@host.`)
    }
    const controller = new AbortController()
    const running = assistant.ingest(docs, controller.signal)
    controller.abort()
    await rejectsWithCode(running, 'cancelled')
    const stored = await assistant.documents()
    assert.ok(stored.length < 4, `a cancelled run must not ingest every file (${stored.length})`)
    // What was committed is searchable, and a later run finishes the job.
    const report = await assistant.ingest(docs)
    assert.equal(report.totals.added + report.totals.unchanged, 4)
  })
})
