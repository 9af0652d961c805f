"""Self-consistency uncertainty of a generator's answer: sample several answers and see whether
they agree.

- Semantic entropy (Kuhn, Gal and Farquhar, ICLR 2023): answers are clustered by bidirectional
  entailment (one cluster when each entails the other), then the entropy of the cluster
  distribution is taken: from cluster frequencies (discrete), or from the answers' sequence
  probabilities when the backend gives log-probabilities.
- SelfCheckGPT-NLI (Manakul et al., 2023): how much the sampled answers contradict each
  sentence of the main answer.
- Token log-probability confidence: exp of the mean token log-probability.

Library functions for the pipeline and the evaluators; they depend on no pipeline object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from smallrag.core.checks import check_int, check_number, is_int
from smallrag.core.errors import SmallragError
from smallrag.core.protocols import Generator, NLIModel, Prompt
from smallrag.verifiers.claims import split_claims, strip_citations

ENTAILMENT, NEUTRAL, CONTRADICTION = 0, 1, 2  # NLI_COLUMNS


def _predict(nli: NLIModel, pairs: list[tuple[str, str]]) -> np.ndarray:
    if not pairs:
        return np.zeros((0, 3), dtype=np.float32)
    probs = np.asarray(nli.predict(pairs))
    if probs.shape != (len(pairs), 3):
        raise SmallragError(f"the NLI model {getattr(nli, 'name', nli)!r} returned shape {probs.shape} for "
                            f"{len(pairs)} pairs; an NLI model returns (n, 3) probabilities")
    return probs


def _check_texts(texts: Sequence[str], what: str) -> list[str]:
    if isinstance(texts, str):
        raise SmallragError(f"{what} must be a list of strings, got one string; wrap it in a list")
    texts = list(texts)
    if not texts:
        raise SmallragError(f"{what} is empty; pass at least one answer")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise SmallragError(f"{what}[{i}] is a {type(text).__name__}; pass strings")
    return texts


def semantic_clusters(answers: Sequence[str], nli: NLIModel, question: str | None = None) -> list[int]:
    """Cluster id per answer (0, 1, ... in order of first appearance).

    Greedy, as Kuhn et al.: each answer joins the first cluster whose first member it entails
    and is entailed by (entailment the arg-max class both ways), else starts a new cluster.
    With `question`, each answer is read as "question answer" (a bare "Paris" states nothing).
    Answers equal once stripped share a cluster without asking the model; empty answers form
    their own cluster."""
    answers = _check_texts(answers, "answers")
    prefix = f"{question.strip()} " if question is not None and question.strip() else ""
    texts = [a.strip() for a in answers]
    unique = list(dict.fromkeys(t for t in texts if t))
    pairs = [(prefix + a, prefix + b) for a in unique for b in unique if a != b]
    probs = _predict(nli, pairs)
    entails = {(a, b): int(np.argmax(p)) == ENTAILMENT
               for (a, b), p in zip(((a, b) for a in unique for b in unique if a != b), probs)}
    representatives: list[str] = []  # first member of each cluster; "" for the empty answers
    ids = []
    for text in texts:
        for cluster, rep in enumerate(representatives):
            if text == rep or bool(text and rep and entails[(text, rep)] and entails[(rep, text)]):
                ids.append(cluster)
                break
        else:
            representatives.append(text)
            ids.append(len(representatives) - 1)
    return ids


def semantic_entropy(cluster_ids: Sequence[int], sequence_logprobs: Sequence[float] | None = None) -> float:
    """Entropy (nats) of the distribution over semantic clusters.

    Without `sequence_logprobs`: discrete semantic entropy, from cluster frequencies. With them
    (one log-probability per answer: the sum of its token log-probabilities, or their mean for
    length-normalised scores), each cluster's probability is the sum of its answers'
    probabilities, normalised over the clusters."""
    if isinstance(cluster_ids, (str, bytes)):
        raise SmallragError("cluster_ids must be a list of integers")
    ids = list(cluster_ids)
    if not ids:
        raise SmallragError("cluster_ids is empty; pass one cluster id per sampled answer")
    if not all(is_int(c) for c in ids):
        raise SmallragError(f"cluster_ids must be integers, got {ids!r:.80}")
    clusters = sorted(set(ids))
    if sequence_logprobs is None:
        counts = np.array([ids.count(c) for c in clusters], dtype=np.float64)
        p = counts / counts.sum()
    else:
        logprobs = np.asarray(list(sequence_logprobs), dtype=np.float64)
        if logprobs.shape != (len(ids),):
            raise SmallragError(f"got {logprobs.size} sequence log-probabilities for {len(ids)} answers; "
                                "pass one per answer")
        if not np.all(np.isfinite(logprobs)) or np.any(logprobs > 1e-9):
            raise SmallragError("sequence log-probabilities must be finite and <= 0")
        cluster_logp = np.array([np.logaddexp.reduce(logprobs[np.asarray(ids) == c]) for c in clusters])
        p = np.exp(cluster_logp - np.logaddexp.reduce(cluster_logp))
    p = p[p > 0]
    return float(-(p * np.log(p)).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0


def selfcheck_nli(main_answer: str, samples: Sequence[str], nli: NLIModel) -> float:
    """SelfCheckGPT-NLI inconsistency in [0, 1]: for each sentence of `main_answer` and each
    sample (premise = sample, hypothesis = sentence), P(contradiction) normalised over
    entailment and contradiction, p_c / (p_e + p_c); averaged over samples, then sentences.
    Citation markers are removed first. High means the samples disagree with the answer."""
    if not isinstance(main_answer, str):
        raise SmallragError(f"main_answer must be a string, got {type(main_answer).__name__}")
    samples = _check_texts(samples, "samples")
    sentences = [c.text for c in split_claims(main_answer, atomic=False)]  # SelfCheckGPT scores sentences
    if not sentences:
        raise SmallragError(f"the main answer has no sentence to check: {main_answer!r:.80}")
    premises = [strip_citations(s) for s in samples]
    pairs = [(p if p.strip() else "(no answer)", s) for s in sentences for p in premises]
    probs = _predict(nli, pairs)
    e, c = probs[:, ENTAILMENT].astype(np.float64), probs[:, CONTRADICTION].astype(np.float64)
    total = e + c
    scores = np.where(total > 0, c / np.where(total > 0, total, 1.0), 0.5)
    return float(scores.reshape(len(sentences), len(premises)).mean(axis=1).mean())


def token_logprob_confidence(logprobs: Sequence[float]) -> float:
    """exp(mean token log-probability): the geometric-mean probability of the generated tokens."""
    if isinstance(logprobs, (str, bytes)) or logprobs is None:
        raise SmallragError("logprobs must be a list of token log-probabilities")
    values = np.asarray(list(logprobs), dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise SmallragError("logprobs is empty; the generation exposed no token log-probabilities")
    if not np.all(np.isfinite(values)) or np.any(values > 1e-9):
        raise SmallragError("token log-probabilities must be finite and <= 0")
    return float(math.exp(values.mean()))


@dataclass(frozen=True)
class UncertaintyReport:
    """What N seeded samples say about an answer's reliability.

    `semantic_entropy` is the discrete one; `weighted_semantic_entropy` uses the samples'
    sequence log-probabilities when every sample has them. `selfcheck` is the SelfCheckGPT-NLI
    score of the main answer against the other samples (NaN when the main answer has no
    sentence, e.g. it is empty).
    `logprob_confidence` is the mean token-log-probability confidence of the samples that
    expose log-probabilities (None when none do)."""

    samples: tuple[str, ...]
    cluster_ids: tuple[int, ...]
    semantic_entropy: float
    selfcheck: float
    logprob_confidence: float | None
    n: int
    main_answer: str = ""
    seeds: tuple[int, ...] = ()
    weighted_semantic_entropy: float | None = None

    @property
    def clusters(self) -> int:
        return len(set(self.cluster_ids))

    def to_json(self) -> dict[str, Any]:
        def num(x: float | None) -> float | None:
            return None if x is None or x != x else float(x)  # NaN is not JSON

        return {"n": self.n, "samples": list(self.samples), "seeds": list(self.seeds),
                "cluster_ids": list(self.cluster_ids), "clusters": self.clusters,
                "semantic_entropy": self.semantic_entropy,
                "weighted_semantic_entropy": self.weighted_semantic_entropy,
                "selfcheck": num(self.selfcheck), "logprob_confidence": self.logprob_confidence,
                "main_answer": self.main_answer}


class SelfConsistency:
    """Samples `n` answers from `generator` at `temperature` with seeds seed .. seed+n-1 and
    measures how far they agree, judged by `nli`."""

    def __init__(self, generator: Generator, nli: NLIModel, *, n: int = 5, temperature: float = 0.7,
                 seed: int = 0, max_tokens: int = 256, stop: Sequence[str] | None = None) -> None:
        if not hasattr(generator, "generate"):
            raise SmallragError(f"generator must be a Generator, got {type(generator).__name__}")
        if not hasattr(nli, "predict"):
            raise SmallragError(f"nli must be an NLI model with predict(pairs), got {type(nli).__name__}")
        check_int("n", n, minimum=2, expected="an integer >= 2 (agreement needs several samples)")
        check_number("temperature", temperature, above=0,
                     expected="> 0 (at 0 every sample is the same greedy answer)")
        check_int("seed", seed, expected="an integer")
        check_int("max_tokens", max_tokens, minimum=1, expected="a positive integer")
        self.generator = generator
        self.nli = nli
        self.n = n
        self.temperature = float(temperature)
        self.seed = seed
        self.max_tokens = max_tokens
        self.stop = list(stop) if stop is not None else None

    def measure(self, prompt: Prompt, *, question: str | None = None,
                main_answer: str | None = None) -> UncertaintyReport:
        """Sample, cluster and score. `main_answer` is the answer under test (e.g. the greedy
        one the pipeline returned), checked against all samples; without it the first sample is
        the answer under test, checked against the other n-1."""
        seeds = tuple(range(self.seed, self.seed + self.n))
        generations = [self.generator.generate(prompt, max_tokens=self.max_tokens, temperature=self.temperature,
                                               stop=self.stop, seed=s) for s in seeds]
        samples = tuple(strip_citations(g.text) for g in generations)
        ids = tuple(semantic_clusters(samples, self.nli, question=question))
        exposed = [g.logprobs for g in generations if g.logprobs]
        weighted = (semantic_entropy(ids, [float(sum(g.logprobs)) for g in generations])
                    if len(exposed) == len(generations) else None)
        confidence = float(np.mean([token_logprob_confidence(lp) for lp in exposed])) if exposed else None
        if main_answer is not None and not isinstance(main_answer, str):
            raise SmallragError(f"main_answer must be a string or None, got {type(main_answer).__name__}")
        main, others = (main_answer, samples) if main_answer is not None else (generations[0].text, samples[1:])
        selfcheck = selfcheck_nli(main, others, self.nli) if split_claims(main) else math.nan
        return UncertaintyReport(samples=samples, cluster_ids=ids, semantic_entropy=semantic_entropy(ids),
                                 selfcheck=selfcheck, logprob_confidence=confidence,
                                 n=self.n, main_answer=main, seeds=seeds, weighted_semantic_entropy=weighted)
