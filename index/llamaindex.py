"""dossier's hybrid search as a llama-index retriever, to drop into a llama-index query engine
or chat engine unchanged:

    from llama_index.core.query_engine import RetrieverQueryEngine
    from index import Index
    from index.llamaindex import DossierRetriever

    engine = RetrieverQueryEngine.from_args(DossierRetriever(Index(".dossier")), llm=my_llm)

Each passage becomes a `TextNode` whose id is the chunk id and whose metadata holds the
contract's passage fields (title, date, source, path, start, end, doc_id, rank); its score is
dossier's fused score. Nothing is read from llama-index's global `Settings`.
"""

from __future__ import annotations

from llama_index.core.callbacks import CallbackManager
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from .core import Index
from .types import Passage


def to_node(passage: Passage) -> NodeWithScore:
    """A passage as llama-index's scored node."""
    metadata = passage.to_dict()
    text = metadata.pop("text")
    score = metadata.pop("score")
    node = TextNode(
        id_=passage.chunk_id,
        text=text,
        metadata=metadata,
        # The LLM sees title, date and file; ids and offsets stay out of its prompt.
        excluded_llm_metadata_keys=["chunk_id", "doc_id", "start", "end", "rank"],
        excluded_embed_metadata_keys=list(metadata),
    )
    return NodeWithScore(node=node, score=score)


class DossierRetriever(BaseRetriever):
    """The `k` best passages of an `Index` for a query, with the same filters as `search`."""

    def __init__(
        self,
        index: Index,
        k: int = 5,
        *,
        after: str | None = None,
        before: str | None = None,
        source: str | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        super().__init__(callback_manager=callback_manager or CallbackManager())
        self.index = index
        self.k = k
        self.filters = {"after": after, "before": before, "source": source}

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        passages = self.index.search(query_bundle.query_str, self.k, **self.filters)
        return [to_node(p) for p in passages]
