"""The spectral front ends of the speaker encoders, in numpy (no librosa, no torchaudio).

Both encoders read 25 ms frames every 10 ms of 16 kHz audio; they differ in window, mel scale
and compression:

- GE2E (resemblyzer): Hann window, power spectrum, 40 Slaney-style mel bands with area
  normalisation (librosa's default filters), no log. Matches resemblyzer's
  ``wav_to_mel_spectrogram`` (librosa 0.11, centred frames, zero padding) to 4e-8.
- ECAPA (SpeechBrain's VoxCeleb recipe): Hamming window, power spectrum, 80 mel bands on the
  HTK formula with symmetric triangles and no normalisation, then 10*log10; the 80 dB floor and
  the mean subtraction are applied per stretch of speech (`ecapa_normalise`).

Features are computed once for a whole signal; windows are slices of the frame sequence.
"""

from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
#: Seconds per feature frame (and per label frame of the diarization).
FRAME_SECONDS = HOP / SAMPLE_RATE


def frame_count(n_samples: int) -> int:
    """Frames of a centred short-time transform of ``n_samples`` samples: one every HOP, plus one."""
    return 1 + n_samples // HOP


def frame_of(seconds: float) -> int:
    """The frame a time falls in."""
    return int(round(seconds / FRAME_SECONDS))


def power_spectrum(samples: np.ndarray, window: np.ndarray, filterbank: np.ndarray | None = None) -> np.ndarray:
    """``|STFT|**2`` of centred frames (zero padding of N_FFT/2 on each side), (frames, bins),
    or its product with ``filterbank`` (bins, bands), computed block by block so that an hour of
    audio never holds more than a few MB of spectra at once (and the signal is not copied)."""
    samples = np.asarray(samples, dtype=np.float32)
    n_frames = frame_count(len(samples))
    width = N_FFT // 2 + 1 if filterbank is None else filterbank.shape[1]
    out = np.empty((n_frames, width), dtype=np.float32)
    block = 4096
    for first in range(0, n_frames, block):
        last = min(first + block, n_frames)
        span = (last - first - 1) * HOP + N_FFT
        needed = _zero_padded(samples, first * HOP - N_FFT // 2, span)
        frames = np.lib.stride_tricks.sliding_window_view(needed, N_FFT)[::HOP][: last - first]
        spectrum = np.fft.rfft(frames * window, axis=1)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        out[first:last] = power if filterbank is None else power @ filterbank
    return out


def _zero_padded(samples: np.ndarray, start: int, length: int) -> np.ndarray:
    """``length`` samples from ``start`` (which may lie before 0 or run past the end: zeros there)."""
    if start >= 0 and start + length <= len(samples):
        return samples[start : start + length]
    out = np.zeros(length, dtype=samples.dtype)
    a, b = max(start, 0), min(start + length, len(samples))
    if b > a:
        out[a - start : b - start] = samples[a:b]
    return out


@functools.cache
def hann() -> np.ndarray:
    """The periodic Hann window of N_FFT samples."""
    n = np.arange(N_FFT)
    return 0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)


@functools.cache
def hamming() -> np.ndarray:
    """The periodic Hamming window of N_FFT samples."""
    n = np.arange(N_FFT)
    return 0.54 - 0.46 * np.cos(2 * np.pi * n / N_FFT)


def _slaney_hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    log_step = np.log(6.4) / 27.0
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / log_step, hz / (200.0 / 3))


def _slaney_mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    log_step = np.log(6.4) / 27.0
    return np.where(mel >= 15.0, 1000.0 * np.exp(log_step * (mel - 15.0)), mel * (200.0 / 3))


@functools.cache
def slaney_filterbank(n_mels: int = 40) -> np.ndarray:
    """Triangular filters on the Slaney mel scale, area-normalised, shape (bins, n_mels)."""
    bins = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = _slaney_mel_to_hz(np.linspace(0.0, _slaney_hz_to_mel(SAMPLE_RATE / 2), n_mels + 2))
    widths = np.diff(edges)
    offsets = edges[:, None] - bins[None, :]
    rising = -offsets[:-2] / widths[:-1, None]
    falling = offsets[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.T.astype(np.float32)


@functools.cache
def htk_filterbank(n_mels: int = 80) -> np.ndarray:
    """Triangular filters on the HTK mel formula, each as wide on both sides as the gap below
    its centre, peak 1, not normalised; shape (bins, n_mels)."""
    bins = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    top = 2595.0 * np.log10(1.0 + (SAMPLE_RATE / 2) / 700.0)
    edges = 700.0 * (10 ** (np.linspace(0.0, top, n_mels + 2) / 2595.0) - 1.0)
    centres = edges[1:-1]
    half_widths = np.diff(edges)[:-1]
    slope = (bins[None, :] - centres[:, None]) / half_widths[:, None]
    weights = np.maximum(0.0, np.minimum(slope + 1.0, 1.0 - slope))
    return weights.T.astype(np.float32)


def ge2e_mels(samples: np.ndarray) -> np.ndarray:
    """GE2E's input: 40 linear (not log) mel energies per frame, (frames, 40)."""
    return power_spectrum(samples, hann(), slaney_filterbank(40))


def frame_power(samples: np.ndarray, n_frames: int) -> np.ndarray:
    """Mean square of the HOP samples each frame starts at (0 past the end), (n_frames,)."""
    usable = len(samples) // HOP * HOP
    blocks = np.asarray(samples[:usable], dtype=np.float64).reshape(-1, HOP)
    power = np.zeros(n_frames)
    count = min(len(blocks), n_frames)
    power[:count] = (blocks[:count] ** 2).mean(axis=1)
    return power.astype(np.float32)


def ecapa_log_mels(samples: np.ndarray) -> np.ndarray:
    """ECAPA's input before normalisation: 80 log mel energies in dB, (frames, 80)."""
    energies = power_spectrum(samples, hamming(), htk_filterbank(80))
    np.maximum(energies, 1e-10, out=energies)  # in place: 3 hours are 1.08 M frames, 350 MB
    np.log10(energies, out=energies)
    energies *= 10.0
    return energies


def ecapa_normalise(windows: np.ndarray, top_db: float = 80.0) -> np.ndarray:
    """The recipe's per-utterance normalisation of ``(n, frames, 80)`` log mels: a floor
    ``top_db`` below each utterance's loudest value, then each band's mean subtracted."""
    floor = windows.max(axis=(1, 2), keepdims=True) - top_db
    clipped = np.maximum(windows, floor)
    return clipped - clipped.mean(axis=1, keepdims=True)
