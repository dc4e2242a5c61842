"""Grouping window embeddings into speakers when their number is unknown (or known).

Agglomerative clustering (average linkage, cosine distance; ``scipy``) cut at a distance
threshold, the count then clamped to ``min_speakers``..``max_speakers`` (or cut to exactly
``num_speakers``). Clusters holding less than ``min_cluster_s`` seconds of speech are folded
into their most similar cluster (a speaker must say something to be one), and windows are
moved to their nearest centroid a few times (k-means steps on the sphere). Past
`MAX_LINKAGE_WINDOWS` windows (long files), an evenly spread sample of them is clustered and
each window joins the nearest of its clusters, so memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class SpeakerCount:
    """What is known about the number of speakers: exactly ``num``, or between ``low`` and ``high``."""

    num: int | None = None
    low: int | None = None
    high: int | None = None

    def __post_init__(self) -> None:
        for name, value in (("num_speakers", self.num), ("min_speakers", self.low), ("max_speakers", self.high)):
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}")
        if self.low is not None and self.high is not None and self.high < self.low:
            raise ConfigError(f"max_speakers ({self.high}) is below min_speakers ({self.low})")

    def bounds(self, n: int) -> tuple[int, int]:
        """The allowed range of clusters for ``n`` windows."""
        if self.num is not None:
            return min(self.num, n), min(self.num, n)
        return min(self.low or 1, n), min(self.high or n, n)


#: The most windows clustered by linkage at once: about 100 minutes of speech at the default
#: 0.5 s step (their distances take 8 bytes per pair, 144 MB, and linkage copies them); a
#: longer file clusters a sample.
MAX_LINKAGE_WINDOWS = 6000


def centroids(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The L2-normalised mean embedding of each label ``0..labels.max()``."""
    k = int(labels.max()) + 1
    sums = np.zeros((k, embeddings.shape[1]))
    np.add.at(sums, labels, embeddings)
    return sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)


def cluster(
    embeddings: np.ndarray,
    *,
    threshold: float,
    count: SpeakerCount = SpeakerCount(),
    durations: np.ndarray | None = None,
    min_cluster_s: float = 0.0,
    reassign_iterations: int = 2,
    max_linkage: int = MAX_LINKAGE_WINDOWS,
) -> np.ndarray:
    """Cluster labels ``0..k-1`` of L2-normalised ``embeddings`` (see the module docstring);
    ``durations`` are the seconds of speech each window stands for; past ``max_linkage``
    windows a sample of them goes through the linkage."""
    n = len(embeddings)
    if n <= 1:
        return np.zeros(n, dtype=int)
    from scipy.cluster.hierarchy import fcluster, linkage

    low, high = count.bounds(n)
    # The linkage holds all pairwise distances: on a long file, a sample of the windows, evenly
    # spread (neighbouring windows overlap), is clustered and every window joins its nearest.
    step = -(-n // max_linkage)
    sample = embeddings[::step]
    tree = linkage(sample, method="average", metric="cosine")
    labels = fcluster(tree, t=threshold, criterion="distance") - 1
    k = int(labels.max()) + 1
    if not low <= k <= high:
        labels = fcluster(tree, t=min(max(k, low), high), criterion="maxclust") - 1
    if step > 1:
        labels = np.argmax(embeddings @ centroids(sample, _compact(labels)).T, axis=1)
    weights = np.ones(n) if durations is None else np.asarray(durations, dtype=float)
    labels = _fold_small(embeddings, _compact(labels), weights, min_cluster_s, low)
    for _ in range(reassign_iterations):
        labels = _reassign(embeddings, labels)
    return _compact(labels)


def _fold_small(embeddings: np.ndarray, labels: np.ndarray, weights: np.ndarray, min_s: float, low: int) -> np.ndarray:
    """Fold clusters of less than ``min_s`` seconds into their most similar cluster, smallest
    first, while more than ``low`` clusters remain."""
    while labels.max() + 1 > max(low, 1):
        sizes = np.bincount(labels, weights=weights)
        smallest = int(np.argmin(sizes))
        if sizes[smallest] >= min_s:
            break
        means = centroids(embeddings, labels)
        similarity = means @ means[smallest]
        similarity[smallest] = -np.inf
        labels = _compact(np.where(labels == smallest, int(np.argmax(similarity)), labels))
    return labels


def _reassign(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each embedding to its most similar centroid, unless that would empty a cluster."""
    moved = np.argmax(embeddings @ centroids(embeddings, labels).T, axis=1)
    return moved if len(np.unique(moved)) == labels.max() + 1 else labels


def _compact(labels: np.ndarray) -> np.ndarray:
    _, compact = np.unique(labels, return_inverse=True)
    return compact.astype(int)
