#!/usr/bin/env node
// itassist from Node: ingest documents, search them, and ask a question if a model server
// is reachable.
//
//   node examples/node/quickstart.mjs [PATH...] [--question "..."]
//
// PATHs default to this machine's OpenSSH client man pages (/usr/share/man/man*/ssh*, scp, sftp;
// Debian's openssh-client package). The index goes to
// ITASSIST_DATA_DIR (default: a temporary directory). The model server is OLLAMA_HOST
// (default http://localhost:11434); set ITASSIST_BACKEND=openai for an OpenAI-compatible
// server such as llama.cpp's llama-server. In an application, import from 'itassist'.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { Assistant } from '../../node/index.js'

/** This machine's OpenSSH client man pages. */
function defaultDocs() {
  const man = '/usr/share/man'
  const wanted = {
    man1: /^(scp|sftp|slogin|ssh[^.]*)\.1(\.gz)?$/,
    man5: /^ssh_config\.5(\.gz)?$/,
    man8: /^ssh-[^.]*\.8(\.gz)?$/,
  }
  return Object.entries(wanted).flatMap(([dir, re]) => {
    const full = path.join(man, dir)
    const names = fs.existsSync(full) ? fs.readdirSync(full) : []
    return names.filter((n) => re.test(n)).sort().map((n) => path.join(full, n))
  })
}

const args = process.argv.slice(2)
const q = args.indexOf('--question')
const question = q >= 0 ? args.splice(q, 2)[1] : 'How do I copy a directory to another host?'
const paths = args.length ? args : defaultDocs()
if (paths.length === 0) {
  console.error('no PATH given and no OpenSSH man pages in /usr/share/man: node quickstart.mjs PATH...')
  process.exit(2)
}
const dataDir =
  process.env.ITASSIST_DATA_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'itassist-example-'))

const assistant = await Assistant.open({
  dataDir,
  backend: process.env.ITASSIST_BACKEND ?? 'ollama',
  connectTimeoutSecs: 2,
})
const report = await assistant.ingest(paths)
const t = report.totals
console.log(
  `ingested: ${t.added} added, ${t.unchanged} unchanged, ${t.failed} failed, ` +
    `${t.chunks} chunks in ${t.elapsedSeconds.toFixed(1)} s`,
)
for (const file of report.files.filter((f) => f.status === 'failed')) {
  console.log(`  failed ${file.path}: [${file.error.code}] ${file.error.message}`)
}

console.log(`\nsearch: ${question}`)
for (const [i, p] of (await assistant.search(question, 3)).entries()) {
  const text = p.text.replace(/\s+/g, ' ').slice(0, 100)
  console.log(`  ${i + 1}. ${p.score.toFixed(3)} ${p.citation}: ${text}...`)
}

try {
  const models = await assistant.models()
  console.log(`\nmodels: ${models.map((m) => m.name).join(', ')}`)
  process.stdout.write('answer: ')
  for await (const event of assistant.askStream(question, { numPredict: 128 })) {
    if (event.type === 'token') process.stdout.write(event.text)
    if (event.type === 'done') {
      console.log()
      for (const n of event.answer.cited) {
        console.log(`  [${n}] ${event.answer.sources[n - 1].citation}`)
      }
    }
  }
} catch (error) {
  // No model server: say so and how to fix it, then end normally.
  console.log(`\nno answer: [${error.code}] ${error.message}`)
}

const stats = await assistant.stats()
console.log(`\nindex: ${stats.documents} documents, ${stats.chunks} chunks at ${stats.dataDir}`)
if (!process.env.ITASSIST_DATA_DIR) fs.rmSync(dataDir, { recursive: true, force: true })
