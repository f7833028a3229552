// Shared helpers of the Node tests: paths to the real corpus, temporary directories, a
// llama.cpp server for the answer tests, and a closed port for the unreachable-server tests.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

export const nodeDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const repoRoot = path.resolve(nodeDir, '..')
/** The shared corpus of real IT documents, beside the repository. */
export const corpus = path.resolve(repoRoot, '..', 'shared', 'corpus')

const require = createRequire(import.meta.url)
/** The package under test, loaded through its entry point (`index.js`). */
export const itassist = require(path.join(nodeDir, 'index.js'))

/** A fresh temporary directory, removed when the process exits. */
export function tempDir(prefix = 'itassist-node-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** `Assistant.open` options for a fresh index (model from ITASSIST_MODEL_DIR). */
export function options(extra = {}) {
  return { dataDir: path.join(tempDir(), 'data'), ...extra }
}

/** Corpus files, checked to exist. */
export function corpusFile(...parts) {
  const file = path.join(corpus, ...parts)
  if (!fs.existsSync(file)) throw new Error(`corpus file missing: ${file}`)
  return file
}

/** A TCP port on 127.0.0.1 that nothing listens on. */
export async function closedPort() {
  const server = net.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Asserts that `promise` rejects with an Error whose `code` is `code`; returns the error. */
export async function rejectsWithCode(promise, code) {
  try {
    await promise
  } catch (error) {
    if (!(error instanceof Error)) throw new Error(`rejected with a non-Error: ${error}`)
    if (error.code !== code) {
      throw new Error(`expected code ${code}, got ${error.code}: ${error.message}`)
    }
    return error
  }
  throw new Error(`expected a rejection with code ${code}, but it resolved`)
}

const cache = process.env.ITASSIST_CACHE ?? path.join(os.homedir(), '.cache', 'itassist')

/**
 * Starts llama.cpp's llama-server with SmolLM2-135M (made by scripts/provision-llama.sh;
 * LLAMA_SERVER / LLAMA_MODEL override the paths). Resolves to `{ url, stop }`.
 */
export async function startLlamaServer() {
  const binary = process.env.LLAMA_SERVER ?? path.join(cache, 'llama', 'bin', 'llama-server')
  const model =
    process.env.LLAMA_MODEL ?? path.join(cache, 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf')
  for (const file of [binary, model]) {
    if (!fs.existsSync(file)) {
      throw new Error(`${file} is missing: run \`bash scripts/provision-llama.sh\``)
    }
  }
  const server = net.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  const child = spawn(
    binary,
    ['-m', model, '--host', '127.0.0.1', '--port', String(port), '-c', '4096', '-t', '1', '-np', '1'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let log = ''
  child.stderr.on('data', (d) => {
    log = (log + d).slice(-4000)
  })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`llama-server exited: ${log}`)
    try {
      const res = await fetch(`${url}/health`)
      if (res.ok) break
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  return {
    url,
    stop: () => child.kill('SIGTERM'),
  }
}
