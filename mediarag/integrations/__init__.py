"""mediarag inside the frameworks people already use: a LangChain retriever
(`mediarag.integrations.langchain`, the ``langchain`` extra) and a LlamaIndex retriever
(`mediarag.integrations.llamaindex`, the ``llamaindex`` extra). Each searches a `mediarag.MediaQA`
in this process or a running ``mediarag serve`` (`PassageSearch`)."""

from .search import PassageSearch, passage_metadata

__all__ = ["PassageSearch", "passage_metadata"]
