"""What every benchmark shares, in one place (each has its unit tests under tests/test_bench_*):

- `core.numbers`: numbers as words, 0..9999 (en, es, de, fr, pt spelled; en, es, de read back).
- `core.text`: the two normalizers, for transcripts (numbers to words) and for answers (SQuAD
  style, numbers to digits).
- `core.wer`: edit distance, alignment, word and character error rates.
- `core.squad`: exact match, token F1 and containment of gold answers.
- `core.retrieval_metrics`: spans, gold evidence and the retrieval evaluators (hit@k, MRR,
  temporal IoU, hit within a listening budget, passages per hour).
- `core.stats`: percentiles, bootstrap confidence intervals, paired differences, Spearman.
- `core.machine`: the machine, versions, git state, CPU load while timing, waiting for quiet.
- `core.report`: progress lines, the report header, Markdown tables, writing the results.

Importing it also sets what every benchmark runs with: no network for model hubs, no progress
bars from mediarag (progress goes to standard error as plain lines instead).
"""

import os

for _name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_name, "1")
os.environ.setdefault("MEDIARAG_PROGRESS", "0")
