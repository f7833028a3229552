// sync / failures on real files in a temporary folder and a real index.
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
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
