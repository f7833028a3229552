// Overhead of the Node binding against the Rust core, on the same index and texts:
//   - search: N searches of one query, awaited one after the other, Node vs a Rust loop;
//   - stats: a call that does almost no work, to isolate the per-call cost of the binding
//     (argument conversion, the hop to a worker thread and back, the Promise);
//   - embed: throughput (texts/s) of one embed() of the same texts.
//
// Usage (from node/): node bench/overhead.mjs [SEARCHES [ROUNDS]]
// Needs the Rust side built: cargo build --release -p itassist-node --example node_overhead
// (OVERHEAD_BIN overrides its path). ITASSIST_MODEL_DIR and ORT_DYLIB_PATH as for the tests.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, '..', '..')
const corpus = path.resolve(repoRoot, '..', 'shared', 'corpus')
const require = createRequire(import.meta.url)
const { Assistant } = require(path.join(here, '..', 'index.js'))

const searches = Number(process.argv[2] ?? 1000)
const rounds = Number(process.argv[3] ?? 3)
const query = 'how do I forward an ssh agent through a jump host?'
const cache = process.env.ITASSIST_CACHE ?? path.join(os.homedir(), '.cache', 'itassist')
const bin =
  process.env.OVERHEAD_BIN ??
  path.join(process.env.CARGO_TARGET_DIR ?? path.join(cache, 'target'), 'release', 'examples', 'node_overhead')

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'itassist-overhead-'))
try {
  const dataDir = path.join(work, 'data')
  const openssh = path.join(corpus, 'debdocs', 'man', 'openssh')
  const assistant = await Assistant.open({ dataDir })
  const report = await assistant.ingest([openssh])

  // The texts to embed: 256 passages of ~50 words from the indexed man pages.
  const words = fs
    .readdirSync(openssh)
    .map((f) => fs.readFileSync(path.join(openssh, f), 'utf8'))
    .join(' ')
    .replace(/\\f[BIRP]|\\-|\.[A-Z][a-z]?\b/g, ' ')
    .split(/\s+/)
    .filter(Boolean)
  const texts = []
  for (let i = 0; texts.length < 256 && i + 50 <= words.length; i += 50) {
    texts.push(words.slice(i, i + 50).join(' '))
  }
  const textsFile = path.join(work, 'texts.json')
  fs.writeFileSync(textsFile, JSON.stringify(texts))

  async function nodeRound() {
    for (let i = 0; i < 20; i++) await assistant.search(query, 5)
    let t = performance.now()
    for (let i = 0; i < searches; i++) await assistant.search(query, 5)
    const searchUs = ((performance.now() - t) * 1000) / searches

    const statsCalls = 10000
    t = performance.now()
    for (let i = 0; i < statsCalls; i++) await assistant.stats()
    const statsUs = ((performance.now() - t) * 1000) / statsCalls

    await assistant.embed(texts.slice(0, 32))
    t = performance.now()
    const vectors = await assistant.embed(texts)
    const embedSeconds = (performance.now() - t) / 1000
    const n = vectors.length / assistant.dimensions
    return { search_us: searchUs, stats_us: statsUs, embed_texts: n, embed_texts_per_second: n / embedSeconds }
  }
  const rustRound = () =>
    JSON.parse(
      execFileSync(bin, [dataDir, textsFile, String(searches), query], { encoding: 'utf8' }).trim(),
    )

  // Alternate the two sides and keep each side's best round: the machine is shared, and the
  // best round is the one least disturbed by other work.
  const nodeRounds = []
  const rustRounds = []
  for (let r = 0; r < rounds; r++) {
    nodeRounds.push(await nodeRound())
    rustRounds.push(rustRound())
  }
  const best = (runs) => ({
    search_us: Math.min(...runs.map((x) => x.search_us)),
    stats_us: Math.min(...runs.map((x) => x.stats_us)),
    embed_texts: runs[0].embed_texts,
    embed_texts_per_second: Math.max(...runs.map((x) => x.embed_texts_per_second)),
  })
  const node = best(nodeRounds)
  const rust = best(rustRounds)
  const f = (x, d = 1) => x.toFixed(d)
  console.log(
    `index: ${report.totals.added} documents, ${report.totals.chunks} chunks; ${searches} searches, k=5; best of ${rounds} rounds`,
  )
  console.log(`| call | Node | Rust | Node - Rust |`)
  console.log(`| --- | --- | --- | --- |`)
  console.log(`| search (us/call) | ${f(node.search_us)} | ${f(rust.search_us)} | ${f(node.search_us - rust.search_us)} |`)
  console.log(`| stats (us/call) | ${f(node.stats_us)} | ${f(rust.stats_us)} | ${f(node.stats_us - rust.stats_us)} |`)
  console.log(
    `| embed ${node.embed_texts} texts (texts/s) | ${f(node.embed_texts_per_second)} | ${f(rust.embed_texts_per_second)} | ${f((node.embed_texts_per_second / rust.embed_texts_per_second) * 100 - 100)} % |`,
  )
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}
