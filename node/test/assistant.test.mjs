// Every method of Assistant on real documents from ../shared/corpus.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { before, describe, test } from 'node:test'

import { corpusFile, itassist, options, rejectsWithCode, tempDir } from './helpers.mjs'

const { Assistant } = itassist

describe('Assistant', () => {
  let assistant
  let report
  const sshConfig = corpusFile('debdocs', 'man', 'openssh', 'ssh_config.5')
  const sshKeygen = corpusFile('debdocs', 'man', 'openssh', 'ssh-keygen.1')
  const refcard = corpusFile('debdocs', 'pdf', 'refcard-en-a4.pdf')

  before(async () => {
    assistant = await Assistant.open(options({ topK: 4 }))
    report = await assistant.ingest([sshConfig, sshKeygen, refcard])
  })

  test('open returns an Assistant with its model and data dir', () => {
    assert.ok(assistant instanceof Assistant)
    assert.equal(assistant.dimensions, 384)
    assert.match(assistant.embeddingModel, /MiniLM/i)
    assert.ok(fs.existsSync(assistant.dataDir))
  })

  test('there is no constructor: open() is the way in', () => {
    assert.throws(() => new Assistant())
  })

  test('ingest reports every file with its document', () => {
    assert.equal(report.files.length, 3)
    assert.equal(report.totals.added, 3)
    assert.equal(report.totals.failed, 0)
    assert.ok(report.totals.chunks > 10)
    assert.ok(report.totals.elapsedSeconds > 0)
    for (const file of report.files) {
      assert.equal(file.status, 'added')
      assert.ok(file.document.id >= 0)
      assert.ok(file.document.chunkCount > 0)
      assert.equal(file.error, undefined)
    }
    const pdf = report.files.find((f) => f.path.endsWith('refcard-en-a4.pdf'))
    assert.equal(pdf.document.format, 'pdf')
    assert.ok(pdf.document.pageCount >= 1)
  })

  test('re-ingesting unchanged files is a no-op; a single path string works', async () => {
    const again = await assistant.ingest(sshConfig)
    assert.equal(again.files[0].status, 'unchanged')
    assert.equal(typeof again.files[0].documentId, 'number')
  })

  test('search finds the right passage with its citation', async () => {
    const passages = await assistant.search('How do I generate a new SSH key pair?', 3)
    assert.equal(passages.length, 3)
    assert.ok(passages[0].score >= passages[1].score)
    assert.ok(passages.some((p) => p.name === 'ssh-keygen.1'), JSON.stringify(passages.map((p) => p.name)))
    const p = passages[0]
    assert.equal(typeof p.text, 'string')
    assert.equal(p.span.length, 2)
    assert.ok(p.citation.startsWith(p.name))
    assert.ok(path.isAbsolute(p.source))
  })

  test('search without k uses topK', async () => {
    const passages = await assistant.search('ssh client configuration file')
    assert.equal(passages.length, 4)
  })

  test('search on a PDF cites its page', async () => {
    const passages = await assistant.search('apt-get install package Debian reference card', 5)
    const hit = passages.find((p) => p.name === 'refcard-en-a4.pdf')
    assert.ok(hit, JSON.stringify(passages.map((p) => p.name)))
    assert.ok(hit.page >= 1)
    assert.match(hit.citation, /page \d+/)
  })

  test('embed returns one flat Float32Array of texts x dimensions', async () => {
    const texts = ['The cat sits on the mat', 'ssh-keygen -t ed25519']
    const vectors = await assistant.embed(texts)
    assert.ok(vectors instanceof Float32Array)
    assert.equal(vectors.length, texts.length * assistant.dimensions)
    const first = vectors.subarray(0, assistant.dimensions)
    const norm = Math.hypot(...first)
    assert.ok(Math.abs(norm - 1) < 1e-4)
    // all-MiniLM-L6-v2 at fp32, chosen by name, gives the reference vector of
    // sentence-transformers (mean pooling); the default (int8) stays close to it.
    const fp32 = await Assistant.open(options({ embeddingModel: 'all-MiniLM-L6-v2' }))
    assert.equal(fp32.embeddingModel, 'sentence-transformers/all-MiniLM-L6-v2')
    const reference = (await fp32.embed(texts)).subarray(0, fp32.dimensions)
    const expected = [0.13489, -0.03206, -0.02034, 0.0359, -0.02833, 0.0415]
    expected.forEach((x, i) => assert.ok(Math.abs(reference[i] - x) < 1e-3, `${reference[i]} vs ${x}`))
    const cosine = first.reduce((sum, x, i) => sum + x * reference[i], 0)
    assert.ok(cosine > 0.97, `int8 far from fp32: ${cosine}`)
  })

  test('embed of no texts is an empty array', async () => {
    const vectors = await assistant.embed([])
    assert.equal(vectors.length, 0)
  })

  test('documents lists what was ingested', async () => {
    const docs = await assistant.documents()
    assert.equal(docs.length, 3)
    const names = docs.map((d) => d.name).sort()
    assert.deepEqual(names, ['refcard-en-a4.pdf', 'ssh-keygen.1', 'ssh_config.5'])
    for (const d of docs) {
      assert.equal(d.sha256.length, 64)
      assert.ok(d.size > 0)
      assert.ok(d.ingestedAt > 1.6e9)
    }
  })

  test('stats counts documents and chunks', async () => {
    const stats = await assistant.stats()
    assert.equal(stats.documents, 3)
    assert.equal(stats.chunks, report.totals.chunks)
    assert.equal(stats.dimensions, 384)
    assert.ok(stats.diskBytes > 0)
    assert.equal(stats.dataDir, assistant.dataDir)
  })

  test('ingestBytes indexes an upload under its name', async () => {
    const bytes = fs.readFileSync(corpusFile('debdocs', 'man', 'openssh', 'scp.1'))
    const file = await assistant.ingestBytes('scp-upload.1', bytes)
    assert.equal(file.status, 'added')
    assert.equal(file.document.name, 'scp-upload.1')
    // The source key holds the content hash: an upload never replaces another by name.
    assert.match(file.document.source, /^upload:[0-9a-f]+\/scp-upload\.1$/)
  })

  test('remove by id, by name, and an unknown document', async () => {
    const docs = await assistant.documents()
    const keygen = docs.find((d) => d.name === 'ssh-keygen.1')
    const removed = await assistant.remove(keygen.id)
    assert.equal(removed.id, keygen.id)
    const byName = await assistant.remove('scp-upload.1')
    assert.equal(byName.name, 'scp-upload.1')
    const left = await assistant.documents()
    assert.equal(left.length, 2)
    const passages = await assistant.search('generate a new SSH key pair', 10)
    assert.ok(passages.every((p) => p.documentId !== keygen.id))
    const error = await rejectsWithCode(assistant.remove('no-such-document.pdf'), 'document_not_found')
    assert.match(error.message, /no-such-document\.pdf/)
  })

  test('concurrent searches all resolve', async () => {
    const queries = ['ssh config host', 'apt-get', 'ProxyJump', 'dpkg -l', 'IdentityFile']
    const results = await Promise.all(queries.map((q) => assistant.search(q, 2)))
    assert.equal(results.length, queries.length)
    results.forEach((r) => assert.equal(r.length, 2))
  })

  test('a second Assistant on the same data dir sees the same documents', async () => {
    const other = await Assistant.open({ dataDir: assistant.dataDir })
    const docs = await other.documents()
    assert.equal(docs.length, 2)
  })

  test('errorCodes lists the stable codes', () => {
    const codes = itassist.errorCodes()
    for (const code of ['document_not_found', 'invalid_input', 'ollama_unreachable', 'corrupt_document']) {
      assert.ok(codes.includes(code), code)
    }
  })
})

describe('ingest of a folder', () => {
  test('walks folders recursively and skips unsupported files', async () => {
    const dir = tempDir()
    fs.mkdirSync(path.join(dir, 'docs', 'sub'), { recursive: true })
    fs.copyFileSync(corpusFile('debdocs', 'man', 'openssh', 'scp.1'), path.join(dir, 'docs', 'scp.1'))
    fs.copyFileSync(
      corpusFile('debdocs', 'man', 'openssh', 'sftp.1'),
      path.join(dir, 'docs', 'sub', 'sftp.1'),
    )
    fs.writeFileSync(path.join(dir, 'docs', 'tool.exe'), Buffer.from([0x4d, 0x5a, 0, 1, 2, 3]))
    const assistant = await Assistant.open(options())
    const report = await assistant.ingest([path.join(dir, 'docs')])
    assert.equal(report.totals.added, 2)
    assert.equal(report.totals.skipped, 1)
    assert.equal(report.files.find((f) => f.status === 'skipped').path.endsWith('tool.exe'), true)
  })
})
