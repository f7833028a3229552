"""itassist from Python: index a folder of documents, search it, and ask a question.

    python examples/python/quickstart.py [DOCS ...]

DOCS default to this machine's OpenSSH client man pages (/usr/share/man/man*/ssh*, scp, sftp;
Debian's openssh-client package). The embedding model comes from ITASSIST_MODEL_DIR (or the
Hugging Face hub when online); answers need an Ollama server (OLLAMA_HOST, default
http://localhost:11434) - without one the script says so and still runs.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import itassist

MAN = Path("/usr/share/man")
DEFAULT_PATTERNS = ["man1/scp.1*", "man1/sftp.1*", "man1/slogin.1*", "man1/ssh*.1*",
                    "man5/ssh_config.5*", "man8/ssh-*.8*"]


def default_docs() -> list[str]:
    """This machine's OpenSSH client man pages."""
    return sorted({str(p) for pattern in DEFAULT_PATTERNS for p in MAN.glob(pattern)})


def main(docs: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="itassist-example-") as data_dir:
        assistant = itassist.Assistant(data_dir, ocr=False)
        report = assistant.ingest(docs, progress=lambda done, total, path, status: print(
            f"  [{done}/{total}] {status:9} {Path(path).name}"
        ))
        print(report)
        for failure in report.failures():
            print(f"  failed: {failure.path}: {failure.error_code}")

        print("\nsearch: how do I list the keys held by the agent?")
        for passage in assistant.search("how do I list the keys held by the agent?", k=3):
            print(f"  {passage.score:.3f}  {passage.citation()}")

        vectors = assistant.embed(["ssh-agent", "scp"])
        print(f"\nembed: {vectors.shape} {vectors.dtype}")
        print(assistant.stats())

        try:
            stream = assistant.ask_stream("How do I copy my public key to a server?")
            for token in stream:
                print(token, end="", flush=True)
            if stream.answer is not None:
                print()
                for n, source in stream.answer.cited_sources():
                    print(f"  [{n}] {source.citation()}")
        except itassist.OllamaUnreachableError as e:
            print(f"\nask: no model server ({e.code}): {e}")
        except itassist.ModelNotFoundError as e:
            print(f"\nask: {e}")

        async def with_asyncio() -> int:
            aio = itassist.AsyncAssistant.from_sync(assistant)
            hits = await aio.search("copy files recursively", k=1)
            return len(hits)

        print(f"\nasync search: {asyncio.run(with_asyncio())} hit(s)")
    return 0


if __name__ == "__main__":
    docs = sys.argv[1:] or default_docs()
    if not docs:
        sys.exit(f"no documents given and no OpenSSH man pages in {MAN}: "
                 "python quickstart.py DOCS... (files or folders)")
    sys.exit(main(docs))
