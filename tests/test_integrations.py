"""The LangChain and LlamaIndex retrievers in this process, with the real framework packages
(the same retrievers against a running server are tested in test_server.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mediarag import ConfigError, MediaQA, MediaRagError, Settings

KEYS = {"source", "start", "end", "link", "speaker", "kind", "score"}


@pytest.fixture(scope="module")
def qa(tmp_path_factory, data_dir, tiny_en, e5):
    root = tmp_path_factory.mktemp("integrations")
    for name in ("jfk.flac", "fleurs-en-000.ogg"):
        shutil.copy(data_dir / name, root / name)
    qa = MediaQA(settings=Settings(index_dir=root / "index", whisper_model="tiny.en"), transcriber=tiny_en, embedder=e5)
    assert qa.ingest([root]).ok
    return qa


def test_langchain_retriever_returns_documents_with_the_citation_metadata(qa):
    pytest.importorskip("langchain_core")
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever

    from mediarag.integrations.langchain import MediaRagRetriever

    retriever = MediaRagRetriever(qa=qa, k=2)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("What can you do for your country?")
    assert docs and all(isinstance(d, Document) for d in docs)
    best = docs[0]
    assert set(best.metadata) == KEYS
    assert Path(best.metadata["source"]).name == "jfk.flac" and "country" in best.page_content
    assert 0 <= best.metadata["start"] < best.metadata["end"] <= 11.1
    assert best.metadata["link"].endswith(f"#t={best.metadata['start']:.1f},{best.metadata['end']:.1f}")
    assert best.metadata["kind"] == "speech" and best.metadata["score"] >= docs[-1].metadata["score"]
    assert MediaRagRetriever(qa=qa, k=2, kind="screen").invoke("What can you do for your country?") == []


def test_langchain_retriever_in_an_lcel_chain(qa):
    pytest.importorskip("langchain_core")
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    from mediarag.integrations.langchain import MediaRagRetriever

    def cite(inputs: dict) -> str:  # stands in for a prompt and an LLM: no model download
        sources = "; ".join(f"{Path(d.metadata['source']).name} at {d.metadata['start']:.1f}s" for d in inputs["docs"])
        return f"{inputs['question']} -> {sources}"

    chain = {"docs": MediaRagRetriever(qa=qa, k=1), "question": RunnablePassthrough()} | RunnableLambda(cite)
    assert chain.invoke("What can you do for your country?") == "What can you do for your country? -> jfk.flac at 0.0s"
    batch = chain.batch(["What can you do for your country?", "How slow were the communication channels?"])
    assert batch[1].endswith("fleurs-en-000.ogg at 0.7s") or "fleurs-en-000.ogg" in batch[1]


def test_llamaindex_retriever_returns_nodes_with_scores(qa):
    pytest.importorskip("llama_index.core")
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore

    from mediarag.integrations.llamaindex import MediaRagRetriever

    retriever = MediaRagRetriever(qa, k=2)
    assert isinstance(retriever, BaseRetriever)
    nodes = retriever.retrieve("How slow were the communication channels in the west?")
    assert nodes and all(isinstance(n, NodeWithScore) for n in nodes)
    best = nodes[0]
    assert Path(best.node.metadata["source"]).name == "fleurs-en-000.ogg" and set(best.node.metadata) == KEYS
    assert best.score == best.node.metadata["score"] and "slow communication" in best.node.get_content()
    assert len({n.node.node_id for n in nodes}) == len(nodes)


def test_retrievers_need_one_index_and_check_the_query(qa):
    pytest.importorskip("langchain_core")
    from mediarag.integrations.langchain import MediaRagRetriever

    with pytest.raises(MediaRagError, match="one of them"):
        MediaRagRetriever()
    with pytest.raises(MediaRagError, match="one of them"):
        MediaRagRetriever(qa=qa, url="http://127.0.0.1:1")
    with pytest.raises(ConfigError, match="empty"):
        MediaRagRetriever(qa=qa).invoke("  ")
