// CPU-heavy work runs off the event loop: timers keep firing while a large ingest of real
// PDFs (parsing + embedding hundreds of chunks) runs.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { corpusFile, itassist, options } from './helpers.mjs'

const { Assistant } = itassist

test('setInterval keeps ticking during a large ingest', async () => {
  const assistant = await Assistant.open(options())
  const pdfs = ['fhs-3.0.pdf', 'refcard-en-a4.pdf'].map((f) =>
    corpusFile('debdocs', 'pdf', f),
  )
  const period = 10
  let ticks = 0
  let longestGap = 0
  let last = performance.now()
  const timer = setInterval(() => {
    const now = performance.now()
    longestGap = Math.max(longestGap, now - last)
    last = now
    ticks++
  }, period)

  const started = performance.now()
  const report = await assistant.ingest(pdfs)
  const elapsed = performance.now() - started
  clearInterval(timer)

  assert.equal(report.totals.added, 2, JSON.stringify(report.files.map((f) => f.error)))
  assert.ok(report.totals.chunks > 100, `only ${report.totals.chunks} chunks`)
  assert.ok(elapsed > 1000, `ingest took only ${elapsed} ms: not a large ingest`)
  const expected = elapsed / period
  console.log(
    `ingest ${(elapsed / 1000).toFixed(1)} s, ${report.totals.chunks} chunks; ` +
      `${ticks} ticks of ${Math.round(expected)} possible, longest gap ${longestGap.toFixed(0)} ms`,
  )
  // A blocked loop would tick about once, with one gap as long as the whole ingest. The
  // bounds leave room for a shared 2-core machine, where ONNX Runtime's threads and other
  // processes can keep the JavaScript thread off the CPU for a moment.
  assert.ok(ticks > expected * 0.5, `${ticks} ticks in ${elapsed.toFixed(0)} ms`)
  assert.ok(
    longestGap < Math.min(5000, elapsed / 4),
    `the event loop stalled for ${longestGap.toFixed(0)} ms`,
  )
})

test('a search answers while an ingest is running', async () => {
  const assistant = await Assistant.open(options())
  await assistant.ingest(corpusFile('debdocs', 'man', 'openssh', 'scp.1'))
  const ingest = assistant.ingest(corpusFile('debdocs', 'pdf', 'fhs-3.0.pdf'))
  let ingestDone = false
  ingest.then(() => {
    ingestDone = true
  })
  const passages = await assistant.search('copy files between hosts', 1)
  assert.equal(passages[0].name, 'scp.1')
  assert.equal(ingestDone, false, 'the search waited for the ingest')
  const report = await ingest
  assert.equal(report.totals.added, 1)
})
