// sync / failures on real files in a temporary folder and a real index.
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'

import { corpusFile, itassist, options } from './helpers.mjs'

const { Assistant } = itassist

test('sync adds, moves without re-embedding, removes, and records failures', async () => {
  const root = mkdtempSync(join(tmpdir(), 'itassist-sync-'))
  const docs = join(root, 'docs')
  mkdirSync(docs)
  copyFileSync(corpusFile('debdocs', 'man', 'openssh', 'scp.1'), join(docs, 'scp.1'))
  copyFileSync(corpusFile('debdocs', 'text', 'copyright-format-1.0.txt'), join(docs, 'copyright.txt'))
  writeFileSync(join(docs, 'broken.pdf'), '%PDF-1.4 not really a pdf')
  const assistant = await Assistant.open(options({ dataDir: join(root, 'index') }))
  try {
    const dry = await assistant.sync(docs, { dryRun: true })
    assert.equal(dry.dryRun, true)
    assert.equal(dry.totals.added, 3)
    assert.equal((await assistant.documents()).length, 0)

    const first = await assistant.sync(docs)
    assert.equal(first.totals.added, 2)
    assert.equal(first.totals.failed, 1)
    const failures = await assistant.failures()
    assert.equal(failures.length, 1)
    assert.ok(failures[0].source.endsWith('broken.pdf'))
    assert.equal(failures[0].code, 'corrupt_document')

    renameSync(join(docs, 'scp.1'), join(docs, 'scp-renamed.1'))
    rmSync(join(docs, 'copyright.txt'))
    const second = await assistant.sync([docs])
    assert.equal(second.totals.moved, 1)
    assert.equal(second.totals.removed, 1)
    assert.equal(second.totals.knownFailures, 1)
    const move = second.changes.find((c) => c.action === 'move')
    assert.ok(move.path.endsWith('scp-renamed.1') && move.from.endsWith('scp.1'))
    const names = (await assistant.documents()).map((d) => d.name)
    assert.deepEqual(names, ['scp-renamed.1'])
    await assert.rejects(assistant.sync(join(root, 'missing')), (e) => e.code === 'path_not_found')
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

/** The local model's files under another model name, with a 96-token window (so the vectors
 * of longer passages change): what a second embedding model looks like offline. */
function renamedModel(root, name) {
  const dir = join(root, name)
  mkdirSync(dir)
  for (const f of readdirSync(process.env.ITASSIST_MODEL_DIR)) {
    if (f !== 'itassist-model.json') symlinkSync(join(process.env.ITASSIST_MODEL_DIR, f), join(dir, f))
  }
  writeFileSync(join(dir, 'itassist-model.json'), JSON.stringify({ name, max_length: 96 }))
  return dir
}

test('reindex re-embeds with another model and the same object keeps searching', async () => {
  const root = mkdtempSync(join(tmpdir(), 'itassist-reindex-'))
  const dataDir = join(root, 'index')
  const assistant = await Assistant.open(options({ dataDir }))
  const opened = await Assistant.open(options({ dataDir }))
  try {
    await assistant.ingest(corpusFile('debdocs', 'man', 'openssh', 'scp.1'))
    const oldModel = assistant.embeddingModel
    const before = await assistant.search('copy files to a remote host', 1)

    const modelDir = renamedModel(root, 'minilm-short-window')
    const stop = new AbortController()
    const stopped = assistant.reindex({ embeddingModel: 'minilm-short-window', modelDir }, stop.signal)
    stop.abort()
    await assert.rejects(stopped, (e) => e.code === 'cancelled')
    assert.equal(assistant.embeddingModel, oldModel)

    const report = await assistant.reindex({ embeddingModel: 'minilm-short-window', modelDir })
    assert.equal(report.previousModel, oldModel)
    assert.equal(report.model, 'minilm-short-window')
    assert.equal(report.dimensions, 384)
    assert.equal(report.chunks, (await assistant.stats()).chunks)
    assert.equal(assistant.embeddingModel, 'minilm-short-window')
    const after = await assistant.search('copy files to a remote host', 1)
    assert.equal(after[0].source, before[0].source)
    // An assistant opened before the swap must be reopened; the error names the command.
    await assert.rejects(
      opened.search('copy files'),
      (e) => e.code === 'embedding_model_mismatch' && /reindex/.test(e.message),
    )
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})
