"""The figures of the retrieval benchmark (PNG, matplotlib): PCA of the passage embeddings per
language, separation against hit@5, hit@5 per chunker, the threshold histograms and the
cross-lingual set-ups."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from core.stats import bootstrap_ci
from retrieval_index import EMBEDDER_LABELS
from retrieval_stats import CROSS


def figures(bench: Any, summary: dict[str, Any]) -> list[str]:
    """Draw the figures of a run (``bench``: the `retrieval.Benchmark` that ran) into its figure
    directory; returns their paths relative to the output directory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bench.fig_dir.mkdir(parents=True, exist_ok=True)
    made = []
    emb = bench.main
    label = EMBEDDER_LABELS[emb]
    colours = list(plt.get_cmap("tab20").colors) + list(plt.get_cmap("tab20b").colors)

    with bench.timings.step("figures"):
        for lang in bench.languages:
            n = len(bench.chunkers)
            cols = min(4, n)
            rows = math.ceil(n / cols)
            fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.0 * rows), squeeze=False)
            for ax, chunker in zip(axes.flat, bench.chunkers):
                proj, var, labels = bench.pca[(chunker.name, lang)]
                sep = next(r for r in bench.separation_rows if r["chunker"] == chunker.name and r["language"] == lang)
                hit5 = bench.results[f"{lang}/{chunker.name}/{emb}"].metrics["hit@5"]
                for a in sorted(set(labels)):
                    mask = np.array(labels) == a
                    ax.scatter(proj[mask, 0], proj[mask, 1], s=9, color=colours[a % len(colours)], label=str(a))
                ax.set_title(
                    f"{chunker.name} ({len(labels)} passages)\nsilhouette {sep['silhouette']:.3f}, hit@5 {hit5:.3f}",
                    fontsize=9,
                )
                ax.set_xlabel(f"PC1 ({var[0]:.0%})", fontsize=8)
                ax.set_ylabel(f"PC2 ({var[1]:.0%})", fontsize=8)
                ax.tick_params(labelsize=7)
            for ax in list(axes.flat)[n:]:
                ax.axis("off")
            handles, names = axes.flat[0].get_legend_handles_labels()
            fig.legend(handles, names, title="article", loc="center right", fontsize=7, ncol=1 if len(names) <= 12 else 2)
            fig.suptitle(f"PCA of {label} passage embeddings, {lang} audio, coloured by article")
            fig.tight_layout(rect=(0, 0, 0.92, 0.96))
            path = bench.fig_dir / f"pca_{lang}.png"
            fig.savefig(path, dpi=110)
            plt.close(fig)
            made.append(path)

        # separation vs hit@5
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
        for ax, key, label in zip(
            axes,
            ("silhouette", "silhouette_pca2", "mean_nn_distance"),
            ("silhouette by article (cosine, 384-d)", "silhouette by article (2-D PCA)", "mean NN cosine distance"),
        ):
            for i, chunker in enumerate(bench.chunkers):
                rows = [r for r in bench.separation_rows if r["chunker"] == chunker.name]
                x = np.mean([r[key] for r in rows])
                y = summary["per_chunker"][chunker.name]["hit@5"]
                ax.scatter([x], [y], color=colours[(2 * i) % len(colours)], s=40)
                ax.annotate(chunker.name, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
            rho = summary["separation_vs_hit5"][key]["macro"]
            ax.set_title(f"{label}\nSpearman rho {rho['rho']:.2f} (p {rho['p']:.2f}, n {rho['n']})", fontsize=9)
            ax.set_xlabel(label, fontsize=8)
            ax.set_ylabel("hit@5 (mean over languages)", fontsize=8)
        fig.tight_layout()
        path = bench.fig_dir / "separation_vs_hit5.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)

        # hit@5 per chunker and language
        fig, ax = plt.subplots(figsize=(max(7, 1.2 * len(bench.chunkers)), 4.5))
        width = 0.8 / len(bench.languages)
        for j, lang in enumerate(bench.languages):
            vals = [bench.results[f"{lang}/{c.name}/{emb}"].metrics["hit@5"] for c in bench.chunkers]
            cis = [bootstrap_ci(bench.results[f"{lang}/{c.name}/{emb}"].per_query["hit@5"]) for c in bench.chunkers]
            x = np.arange(len(bench.chunkers)) + j * width
            ax.bar(x, vals, width, label=lang, yerr=np.array([[v - lo, hi - v] for v, (lo, hi) in zip(vals, cis)]).T, capsize=2)
        ax.set_xticks(np.arange(len(bench.chunkers)) + width * (len(bench.languages) - 1) / 2)
        ax.set_xticklabels([c.name for c in bench.chunkers], rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("hit@5 (95 % bootstrap interval)")
        ax.set_ylim(0, 1)
        ax.legend(title="audio / questions")
        ax.set_title(f"Same-language retrieval, {label}")
        fig.tight_layout()
        path = bench.fig_dir / "hit5_by_chunker.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)

        # threshold histograms
        rows_t = bench.threshold_rows
        cols = min(3, len(rows_t))
        nrows = math.ceil(len(rows_t) / cols)
        fig, axes = plt.subplots(nrows, cols, figsize=(5 * cols, 3.6 * nrows), squeeze=False)
        for ax, row in zip(axes.flat, rows_t):
            pos, neg = np.array(row["answerable"]), np.array(row["unanswerable"])
            bins = np.linspace(min(pos.min(), neg.min()), max(pos.max(), neg.max()), 40)
            ax.hist(pos, bins=bins, alpha=0.6, label="answerable (article indexed)")
            ax.hist(neg, bins=bins, alpha=0.6, label="unanswerable (article left out)")
            ax.axvline(row["best_accuracy_threshold"], color="k", linestyle="--", label=f"best {row['best_accuracy_threshold']:.3f}")
            ax.axvline(row["current_threshold"], color="r", linestyle=":", label=f"min_score {row['current_threshold']}")
            ax.set_title(f"{row['name']}\nAUC {row['auc']:.3f}", fontsize=8)
            ax.set_xlabel("top-1 cosine score", fontsize=8)
            ax.legend(fontsize=6)
        for ax in list(axes.flat)[len(rows_t):]:
            ax.axis("off")
        fig.tight_layout()
        path = bench.fig_dir / "thresholds.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)

        # cross-lingual
        if bench.cross_rows:
            langs = [lang for lang in bench.languages if lang != "en"]
            present = {r["config"] for r in bench.cross_rows}
            setups = [(t, label) for t, label, *_ in CROSS if t in present]
            tags = [t for t, _ in setups]
            fig, ax = plt.subplots(figsize=(8, 4.5))
            width = 0.8 / len(langs)
            for j, lang in enumerate(langs):
                vals, errs = [], []
                for tag in tags:
                    row = next(r for r in bench.cross_rows if r["config"] == tag and r["language"] == lang)
                    res = bench.results[row["name"]]
                    lo, hi = bootstrap_ci(res.per_query["hit@5"])
                    vals.append(res.metrics["hit@5"])
                    errs.append((res.metrics["hit@5"] - lo, hi - res.metrics["hit@5"]))
                ax.bar(np.arange(len(tags)) + j * width, vals, width, yerr=np.array(errs).T, capsize=2, label=f"en -> {lang}")
            ax.set_xticks(np.arange(len(tags)) + width * (len(langs) - 1) / 2)
            ax.set_xticklabels([f"({t}) {label}" for t, label in setups], rotation=20, ha="right", fontsize=7)
            ax.set_ylim(0, 1)
            ax.set_ylabel("hit@5 (95 % bootstrap interval)")
            ax.set_title("English questions over Spanish / German audio (default chunker)")
            ax.legend()
            fig.tight_layout()
            path = bench.fig_dir / "crosslingual_hit5.png"
            fig.savefig(path, dpi=110)
            plt.close(fig)
            made.append(path)
    return [str(p.relative_to(bench.out)) for p in made]
