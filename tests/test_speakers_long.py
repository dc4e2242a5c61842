"""The speaker stage on long files: what it computes a block at a time, or on a sample, agrees
with the whole at once (real recordings, laid end to end so that they span several blocks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mediarag.media import decode_audio
from mediarag.speakers.clustering import cluster
from mediarag.speakers.diarize import DiarizationConfig, embed_speech
from mediarag.speakers.features import HOP, N_FFT, frame_count, hamming, htk_filterbank, power_spectrum

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def voices() -> np.ndarray:
    """About 2.5 minutes of real speech by several voices: the two-party call, ten FLEURS
    sentences (several readers) and five LibriVox sentences, one after the other."""
    names = ("sample.flac", "fleurs_en_concat.ogg", "librivox_en_concat.wav")
    parts = [decode_audio(DATA / name).samples for name in names]
    return np.concatenate(parts)


@pytest.fixture(scope="module")
def ecapa():
    from mediarag.speakers.encoders import load_encoder

    return load_encoder("ecapa")


def whole_at_once(signal: np.ndarray) -> np.ndarray:
    """The reference: the signal zero-padded by half a frame on each side, every frame at once."""
    padded = np.pad(signal, (N_FFT // 2, N_FFT // 2))
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][: frame_count(len(signal))]
    spectrum = np.fft.rfft(frames * hamming(), axis=1)
    return (spectrum.real**2 + spectrum.imag**2).astype(np.float32) @ htk_filterbank(80)


@pytest.mark.parametrize("samples", [300, 1000, 50 * 16000 + 123])  # under a frame; > 4096 frames, ragged
def test_spectra_block_by_block_are_those_of_the_whole_signal(voices, samples):
    signal = voices[16000 : 16000 + samples]
    got = power_spectrum(signal, hamming(), htk_filterbank(80))
    assert got.shape == (frame_count(samples), 80)
    np.testing.assert_allclose(got, whole_at_once(signal), rtol=1e-5, atol=1e-6)


def test_embeddings_of_later_blocks_match_each_window_embedded_alone(voices, ecapa):
    # The shared trunk normalises and runs the speech a block at a time (30 s of frames); a
    # window far into the file must come out as when it is embedded on its own (exact path).
    from mediarag.speakers.encoders import load_encoder

    exact = load_encoder("ecapa", exact=True)
    embedded = embed_speech(voices, ecapa, DiarizationConfig())
    windows = embedded.windows
    late = [w for w in windows if w[0] > 90.0][::7]
    assert len(late) >= 10
    shared = ecapa.embed(voices, windows, embedded.regions)
    alone = exact.embed(voices, late, embedded.regions)
    picked = shared[[windows.index(w) for w in late]]
    cosine = np.sum(picked * alone, axis=1)
    assert cosine.min() > 0.8, cosine
    assert np.median(cosine) > 0.9, cosine


def test_clustering_a_sample_of_the_windows_finds_the_same_speakers(voices, ecapa):
    embedded = embed_speech(voices, ecapa, DiarizationConfig())
    emb = embedded.embeddings
    config = DiarizationConfig()
    spacing = np.array([min(e - s, config.step_s) for s, e in embedded.windows])
    options = dict(threshold=config.threshold, durations=spacing, min_cluster_s=config.min_cluster_s)
    whole = cluster(emb, **options)
    sampled = cluster(emb, max_linkage=len(emb) // 3, **options)
    assert len(emb) > 3 * 60
    assert sampled.max() == whole.max()  # as many speakers
    # The same partition up to the names: each sampled label maps to one whole-run label.
    agree = sum(np.bincount(whole[sampled == k]).max() for k in np.unique(sampled)) / len(emb)
    assert agree >= 0.9, agree
