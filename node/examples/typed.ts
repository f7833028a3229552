// A typed use of the package, checked with `tsc --noEmit -p examples/tsconfig.json` against the
// generated index.d.ts (it is type-checked in CI, not run).
import {
  Assistant,
  errorCodes,
  type Answer,
  type AskEvent,
  type AssistantOptions,
  type Document,
  type IngestReport,
  type Passage,
} from 'itassist'

const options: AssistantOptions = {
  dataDir: './itassist-data',
  topK: 3,
  chunkTokens: 200,
  chunkOverlap: 40,
  ocr: false,
  ollamaUrl: 'http://localhost:11434',
  backend: 'ollama',
  model: 'llama3',
}

/** The error code of a rejection, if it is one of the package's errors. */
function codeOf(error: unknown): string | undefined {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') {
    return errorCodes().includes(error.code) ? error.code : undefined
  }
  return undefined
}

function describeEvent(event: AskEvent): string {
  switch (event.type) {
    case 'sources':
      return `${event.sources.length} sources (${event.droppedPassages} dropped)`
    case 'token':
      return event.text
    case 'done':
      return `done: ${event.answer.cited.length} citations`
  }
}

export async function main(paths: string[]): Promise<void> {
  const assistant: Assistant = await Assistant.open(options)
  const report: IngestReport = await assistant.ingest(paths)
  for (const file of report.files) {
    if (file.status === 'failed' && file.error) {
      console.error(file.path, file.error.code)
    }
  }

  const passages: Passage[] = await assistant.search('configure a jump host', 5)
  const [start, end]: [number, number] = passages[0]?.span ?? [0, 0]
  console.log(passages.map((p) => `${p.score.toFixed(3)} ${p.citation}`), end - start)

  const vectors: Float32Array = await assistant.embed(['a', 'b'])
  const first: Float32Array = vectors.subarray(0, assistant.dimensions)
  console.log(first.length, assistant.embeddingModel, assistant.dataDir)

  const docs: Document[] = await assistant.documents()
  if (docs[0]) {
    const removed: Document = await assistant.remove(docs[0].id)
    console.log(removed.name, (await assistant.stats()).chunks)
  }

  try {
    const answer: Answer = await assistant.ask('How do I use ProxyJump?', {
      numPredict: 64,
      temperature: 0,
    })
    console.log(answer.answer, answer.timings.totalSeconds)
    for await (const event of assistant.askStream('And with scp?', { topK: 2 })) {
      process.stdout.write(describeEvent(event))
    }
    console.log((await assistant.models()).map((m) => m.name))
  } catch (error) {
    if (codeOf(error) !== 'ollama_unreachable') throw error
  }
}
