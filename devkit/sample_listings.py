"""Deterministic, realistic Hugging Face Daily Papers listings for demos, tests and benchmarks.

The items have the exact shape of ``https://huggingface.co/api/daily_papers?date=...`` and carry
planted trends whose answers are known by construction:

* "scaling" (whole word, title or abstract) in a share of papers rising linearly from ~5% at the
  first date to ~45% at the last date;
* "tractable" in a steady ~10% of papers;
* "inference-time scaling" in some scaling papers, rising from 0 after the midpoint of the range;
* near-miss words ("scalable", "upscaling", "intractable", "tractability", ...) only in papers that
  do not contain the planted word, so substring matching gives wrong answers.

Only the standard library is used so the module can be imported anywhere (stub server, tests,
benchmarks) without the pipeline's dependencies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import pathlib
import random
import unicodedata
from dataclasses import dataclass, field

__all__ = [
    "DailyLists",
    "generate_daily_lists",
    "planted_truth",
    "write_daily_files",
]

# --- trend parameters -------------------------------------------------------------------------

SCALING_SHARE_START = 0.05
SCALING_SHARE_END = 0.45
TRACTABLE_SHARE = 0.10
# Share of *scaling* papers that say "inference-time scaling", reached at the end of the range.
INFERENCE_TIME_SHARE_END = 0.6
SCALING_NEAR_MISS_SHARE = 0.15
TRACTABLE_NEAR_MISS_SHARE = 0.12
RELIST_SHARE = 0.02
GITHUB_SHARE = 0.40
PROJECT_PAGE_SHARE = 0.25
LINE_WRAP_SHARE = 0.10
AI_KEYWORDS_SINCE = dt.date(2025, 3, 1)
# From this list date the real API's item-level publishedAt is paper.publishedAt shown as
# US/Eastern wall time (still suffixed "Z"); before it, it was the posting time.
EASTERN_PUBLISHED_AT_SINCE = dt.date(2025, 3, 14)
MAX_PUBLISH_LAG_DAYS = 3
SUMMARY_MIN_CHARS, SUMMARY_MAX_CHARS = 600, 1500
SUMMARY_MIN_SENTENCES, SUMMARY_MAX_SENTENCES = 4, 8

# --- vocabularies -----------------------------------------------------------------------------
# None of the base vocabularies may contain the whole words "scaling" or "tractable" or the
# phrase "inference-time": those appear only through PLANTED_* templates, which is what makes
# planted_truth() exact. tests/test_sample_listings.py checks every upper-case tuple here.

TASKS = (
    "Long-Context Reasoning", "Mathematical Reasoning", "Code Generation",
    "Text-to-Image Generation", "Video Generation", "Visual Question Answering",
    "Retrieval-Augmented Generation", "Instruction Following", "Open-Vocabulary Segmentation",
    "Embodied Navigation", "Robotic Manipulation", "Speech Recognition", "Machine Translation",
    "Document Understanding", "3D Scene Reconstruction", "Novel View Synthesis",
    "Molecular Property Prediction", "Time Series Forecasting", "Tool Use", "Web Navigation",
    "Multi-Turn Dialogue", "Theorem Proving", "Image Editing", "Motion Generation",
    "Audio Captioning", "Chart Understanding", "Protein Design", "Weather Forecasting",
    "Text-to-Speech Synthesis", "Hallucination Detection", "Preference Alignment",
    "Table Question Answering", "Visual Grounding", "Depth Estimation", "Object Tracking",
    "Software Engineering Agents", "Scientific Question Answering", "Video Understanding",
)
MODELS = (
    "Large Language Models", "Vision-Language Models", "Diffusion Transformers",
    "Multimodal Large Language Models", "Small Language Models", "Mixture-of-Experts Models",
    "State Space Models", "Video Diffusion Models", "Reasoning Models",
    "Autoregressive Image Generators", "Speech Language Models", "Code LLMs", "Embedding Models",
    "Vision Transformers", "World Models", "Reward Models", "LLM Agents", "GUI Agents",
)
METHODS = (
    "Reinforcement Learning", "Direct Preference Optimization", "Contrastive Decoding",
    "Speculative Decoding", "Sparse Attention", "Low-Rank Adaptation", "Knowledge Distillation",
    "Chain-of-Thought Prompting", "Self-Consistency", "Process Reward Models",
    "Curriculum Learning", "Token Merging", "Flow Matching", "Test-Time Training",
    "Retrieval Augmentation", "Model Merging", "Quantization-Aware Training", "Self-Play",
    "Synthetic Data", "Rejection Sampling", "Monte Carlo Tree Search", "Latent Diffusion",
    "Masked Autoencoding", "Group Relative Policy Optimization", "Verifier-Guided Search",
    "KV Cache Compression", "Dynamic Token Pruning", "Multi-Agent Debate",
    "Preference Distillation", "Mixture of Depths", "Bayesian Optimization",
)
ADJECTIVES = (
    "Efficient", "Robust", "Unified", "Adaptive", "Lightweight", "Interpretable", "Training-Free",
    "Generalizable", "Controllable", "Fine-Grained", "Data-Efficient", "Long-Horizon", "Zero-Shot",
    "Multilingual", "Faithful", "Compositional", "Open-Ended", "Self-Improving", "Reliable",
    "Hierarchical", "Sparse", "Verifiable", "Streaming", "Holistic",
)
PROPERTIES = (
    "Robustness", "Calibration", "Generalization", "Memorization", "Faithfulness",
    "Sample Efficiency", "Emergence", "Stability", "Sycophancy", "Expressivity", "Brittleness",
    "Limits",
)
VERBS = ("Reason", "Plan", "Search", "Reflect", "Verify", "Edit", "Retrieve", "Forget",
         "Explore", "Self-Correct")
NAME_HEADS = ("Omni", "Vi", "Lu", "Zeta", "Astra", "Nova", "Mira", "Echo", "Flux", "Orca",
              "Hydra", "Kite", "Lyra", "Sage", "Pixel", "Cosmo", "Quill", "Atlas", "Vega", "Delta")
NAME_TAILS = ("Gen", "Bench", "Mind", "Reason", "Coder", "VL", "Agent", "Former", "Flow", "RL",
              "Edit", "Sync", "Mem", "Map", "Thinker", "Nav", "Vox")
NAME_VERSIONS = ("", "", "", "", "-R1", "-2", "++", "-Pro", "-Zero", "-1.5")
AREAS = ("natural language processing", "computer vision", "robotics", "speech processing",
         "scientific discovery", "recommender systems", "autonomous systems")
APPLICATIONS = ("autonomous driving", "medical imaging", "software engineering", "education",
                "e-commerce search", "scientific literature review", "customer support",
                "drug discovery", "climate modeling", "content creation")
CHALLENGES = ("hallucination", "error accumulation over long horizons", "distribution shift",
              "limited context windows", "high inference latency", "reward hacking",
              "catastrophic forgetting", "poor calibration", "spurious correlations",
              "the scarcity of high-quality annotations", "temporal inconsistency")
CONDITIONS = ("inputs are long and noisy", "supervision is sparse",
              "the test distribution differs from training", "multiple modalities must be aligned",
              "the action space is large", "compute budgets are tight")
RESOURCES = ("large amounts of human-annotated data", "expensive proprietary models",
             "task-specific architectures", "dense reward signals",
             "extensive hyperparameter tuning", "hand-crafted heuristics")
QUANTITIES = ("model size", "training compute", "the number of training tokens",
              "the number of sampled solutions", "context length", "the amount of synthetic data")
GOALS = ("improve factual consistency", "reduce redundant computation",
         "align intermediate reasoning steps", "recover fine-grained spatial details",
         "balance exploration and exploitation", "preserve temporal coherence")
FIRST_STEPS = ("decomposes each input into semantically coherent segments",
               "retrieves relevant evidence from an external corpus",
               "generates diverse candidate solutions", "estimates token-level uncertainty",
               "builds a structured memory of past interactions")
SECOND_STEPS = ("aggregates them with a learned verifier",
                "refines the output through iterative self-feedback",
                "distills the resulting trajectories into a compact student model",
                "selects the most consistent prediction",
                "updates the policy with group-normalized advantages")
COMPONENTS = ("lightweight router", "cross-modal adapter", "hierarchical planner",
              "dual-stream encoder", "learnable memory bank", "step-level critic")
COMPONENT_ROLES = ("selects informative tokens", "aligns visual and textual features",
                   "decomposes goals into subgoals", "tracks long-range dependencies",
                   "scores intermediate reasoning steps")
BENCHMARKS = ("MMLU-Pro", "GSM8K", "MATH-500", "AIME 2024", "HumanEval", "LiveCodeBench",
              "SWE-bench Verified", "MMMU", "VideoMME", "GPQA-Diamond", "ScienceQA", "DocVQA",
              "ChartQA", "RULER", "LongBench", "GenEval", "VBench", "ALFWorld", "WebArena",
              "OSWorld", "τ-bench")
MODEL_SIZES = ("0.5B", "1.5B", "3B", "7B", "8B", "14B", "32B", "70B")
FINDINGS = ("performance gains are concentrated on the hardest examples",
            "intermediate representations encode task structure well before the final layer",
            "most errors stem from incorrect early decisions rather than faulty execution",
            "longer reasoning traces are not always more accurate",
            "data quality matters more than data quantity in this regime")
METRICS = ("validation loss", "downstream accuracy", "pass@1", "reward")
GITHUB_ORGS = ("OpenGVLab", "THUDM", "microsoft", "google-research", "facebookresearch",
               "huggingface", "allenai", "NVlabs", "QwenLM", "deepseek-ai", "salesforce", "apple",
               "bytedance", "X-PLUG", "mit-han-lab", "princeton-nlp", "stanfordnlp", "OpenBMB")
FIRST_NAMES = ("Xuyang", "Yifan", "Haoran", "Jiaming", "Zhiyuan", "Wei", "Yuxin", "Mingyu", "Qi",
               "Ruoxi", "Seung-hoon", "Minji", "Hiroshi", "Yuki", "Arjun", "Priya", "Ananya",
               "Rahul", "Maria", "José", "Zoë", "Jürgen", "Søren", "Łukasz", "Chloé", "Renée",
               "Çağlar", "Ngọc", "Björn", "Ana", "Lucas", "Emma", "Noah", "Olivia", "Liam",
               "Sofia", "Mateo", "Amira", "Omar", "Fatima", "Ivan", "Olga", "Tomás", "Elena",
               "David", "Sarah", "Michael", "Laura", "Daniel", "Julia")
LAST_NAMES = ("Liu", "Wang", "Zhang", "Chen", "Li", "Kim", "Park", "Nguyen", "García", "Müller",
              "Schmidt", "Rossi", "Kowalski", "Singh", "Patel", "Gupta", "Tanaka", "Sato",
              "Ivanova", "Novák", "Dubois", "Silva", "Santos", "Yılmaz", "Okafor", "Haddad",
              "Cohen", "Andersson", "Øvergaard", "Brown", "Smith", "Johnson", "Martin", "Lee",
              "Huang", "Zhou", "Wu", "Xu", "Sun", "Ma", "Hu", "Guo", "He", "Lin", "Luo", "Zheng",
              "Zhao", "Yang", "Fernández", "Ødegaard")
KEEP_CAPITALIZED = frozenset({"Monte", "Carlo", "Bayesian", "Markov", "Gaussian"})

# --- title templates (Title Case slots) -------------------------------------------------------

TITLE_TEMPLATES = (
    "{Name}: {Adj} {Method} for {Task}",
    "Towards {Adj} {Task} with {Models}",
    "{Name}: A Benchmark for {Task} in {Models}",
    "On the {Property} of {Models} in {Task}",
    "{Method} Makes {Models} Better at {Task}",
    "Learning to {Verb} with {Method}",
    "Rethinking {Method} for {Adj} {Task}",
    "{Name}: Unlocking {Task} via {Method}",
    "When Do {Models} Fail at {Task}?",
    "Beyond {Method}: {Adj} {Task} with {Models}",
    "{Adj} {Task} via {Method} and {Method2}",
    "{Name}: {Adj} {Models} for {Task}",
    "Can {Models} {Verb}? A Study of {Method} for {Task}",
    "{Name}: Teaching {Models} to {Verb} through {Method}",
)
# Rare variants that bring LaTeX and non-ASCII into titles, as on the real site.
TITLE_SPECIAL_TEMPLATES = (
    "{Name}: {Adj} {Task} with {Pct}\\% Fewer Tokens",
    "Linear-Time {Task}: $\\mathcal{{O}}(n)$ Attention for {Models}",
    "Beyond τ-bench: Evaluating {Models} on Realistic {Task}",
    "μP Transfer for {Models}: {Adj} Hyperparameters for {Task}",
)
PLANTED_SCALING_TITLES = (
    "Scaling {Method} for {Task}",
    "Scaling Laws for {Models} in {Task}",
    "{Name}: Scaling {Task} with {Method}",
    "Scaling Up {Adj} {Task} with {Models}",
)
PLANTED_INFERENCE_TIME_TITLES = (
    "Inference-Time Scaling for {Task}",
    "{Name}: Inference-Time Scaling of {Models} via {Method}",
)
PLANTED_TRACTABLE_TITLES = (
    "Tractable {Task} with {Method}",
    "{Name}: Tractable Inference for {Models}",
)
# Phrases a line wrap must not split, so substring matchers can still find them.
PLANTED_NO_WRAP = ("Inference-Time Scaling",)

# --- abstract sentence templates (lower-case slots, first letter capitalized afterwards) ------

CONTEXT_SENTENCES = (
    "{models} have achieved remarkable progress in {task}, yet they still struggle with "
    "{challenge}.",
    "Recent advances in {method} have substantially improved the capabilities of {models} on "
    "{task} and related problems.",
    "{task} is a fundamental problem in {area}, with applications ranging from {app1} to {app2}.",
    "As {models} are increasingly deployed in high-stakes domains such as {app1} and {app2}, "
    "reliable {task} has become a central requirement, but current systems still exhibit "
    "{challenge} that is difficult to detect and costly to correct.",
    "Despite rapid progress, {task} remains challenging for {models}, particularly when "
    "{condition}.",
)
PROBLEM_SENTENCES = (
    "Existing approaches rely heavily on {resource}, which limits their applicability in "
    "real-world settings.",
    "However, current methods often suffer from {challenge}, and their behavior when {condition} "
    "is poorly understood.",
    "Prior work has largely focused on narrow settings, leaving open the question of how to "
    "handle {challenge} in {task}.",
    "Most existing pipelines treat {task} as a single-pass prediction problem and depend on "
    "{resource}, so they degrade sharply when {condition} and offer little insight into why "
    "individual predictions fail.",
)
METHOD_INTRO_SENTENCES = (
    "In this paper, we introduce {name}, {a_adj} framework that combines {method} with "
    "{method2} to address these limitations.",
    "We propose {name}, a method that leverages {method} to {goal} without requiring "
    "{resource}.",
    "To this end, we present {name}, {a_adj} approach to {task} built on {method}.",
)
METHOD_DETAIL_SENTENCES = (
    "Our approach first {step1}, and then {step2}.",
    "Concretely, we design a {component} that {role}, together with a training objective based "
    "on {method2}.",
    "We further construct {name}-Bench, a benchmark of {n_examples} carefully curated examples "
    "covering {n_categories} categories of {task}.",
)
SPECIAL_DETAIL_SENTENCES = (
    "Unlike quadratic attention, our method runs in $\\mathcal{{O}}(n)$ time and memory with "
    "respect to sequence length.",
    "The hyperparameters are transferred from a small proxy model using μP, which avoids costly "
    "tuning at the target size.",
)
RESULT_SENTENCES = (
    "Extensive experiments on {n_benchmarks} benchmarks show that {name} outperforms strong "
    "baselines by {pct}{pct_sign} on average.",
    "{name} achieves state-of-the-art results on {bench1} and {bench2}, while reducing inference "
    "cost by {speedup}.",
    "Notably, a {size_small} model trained with our method matches the performance of a "
    "{size_large} baseline on {bench1}.",
    "Ablation studies confirm that each component contributes to the final performance of "
    "{name}.",
    "Our analysis further reveals that {finding}.",
    "Beyond aggregate metrics, a detailed error analysis on {bench2} shows that {name} reduces "
    "failures caused by {challenge} while keeping latency comparable to the strongest "
    "open-source baselines, and human evaluators prefer its outputs in most pairwise "
    "comparisons.",
)
RELEASE_SENTENCES = (
    "We release our code, data, and model checkpoints to facilitate future research.",
    "All models and evaluation scripts will be made publicly available to support reproducible "
    "research.",
)
RELEASE_URL_SENTENCE = "Code and models are publicly available at {github_url}."
PLANTED_SCALING_SENTENCES = (
    "We study the scaling behavior of {method} and find that performance improves predictably "
    "with {quantity}.",
    "Our experiments reveal clear scaling trends as model size grows from {size_small} to "
    "{size_large}.",
    "We derive scaling laws that relate {metric} to compute, data, and parameter count.",
    "Moreover, {name} exhibits favorable scaling with respect to {quantity}.",
)
PLANTED_INFERENCE_TIME_SENTENCES = (
    "We further show that inference-time scaling with {method} yields consistent gains on "
    "{bench1}.",
    "By allocating additional compute through inference-time scaling, a {size_small} model "
    "surpasses a {size_large} baseline.",
)
PLANTED_TRACTABLE_SENTENCES = (
    "This formulation keeps posterior inference tractable while retaining the expressiveness of "
    "{method}.",
    "We show that the resulting objective admits a tractable lower bound that can be optimized "
    "end to end.",
    "Crucially, the decomposition makes exact marginalization tractable for sequences of "
    "arbitrary length.",
)
NEAR_MISS_SCALING_SENTENCES = (
    "The method is scalable to millions of examples and requires no additional annotation.",
    "We also analyze the scalability of {name} with respect to {quantity} and report its "
    "computational overhead.",
    "A lightweight upscaling module restores high-frequency details in the generated outputs.",
    "Feature rescaling and normalization are applied before fusion to stabilize training of "
    "{name}.",
    "Unlike downscaling baselines, our approach preserves fine-grained structure in {task}.",
)
NEAR_MISS_TRACTABLE_SENTENCES = (
    "Computing the exact likelihood is intractable, so we resort to a variational approximation "
    "trained with {method}.",
    "We discuss the tractability of the resulting optimization problem under mild assumptions "
    "on the data distribution.",
    "Because exhaustive search over all candidate plans is intractable, we adopt a greedy "
    "strategy guided by {method}.",
)


# --- public API -------------------------------------------------------------------------------


class DailyLists(dict):
    """A plain ``{date: [item, ...]}`` dict that also remembers the generator's planted decisions."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # paper id -> {"scaling": bool, "tractable": bool, "inference_time_scaling": bool}
        self.planted: dict[str, dict[str, bool]] = {}


def generate_daily_lists(
    start: dt.date,
    end: dt.date,
    seed: int = 7,
    papers_per_day: tuple[int, int] = (8, 30),
) -> DailyLists:
    """Generate Daily Papers API listings for every date in ``[start, end]``.

    Args:
        start: First list date (inclusive).
        end: Last list date (inclusive).
        seed: Everything is derived from it; same arguments give identical output.
        papers_per_day: Inclusive range of new papers on a weekday; weekends get about a third
            (possibly 0), weekdays at least 1. About 2% of papers are listed again on a later
            date, on top of these counts.

    Returns:
        A ``DailyLists`` (a dict subclass) mapping ``"YYYY-MM-DD"`` to the list of API items for
        that date, in date order. Serialize it like any dict; pass it to ``planted_truth`` to get
        the planted answers.
    """
    _validate_arguments(start, end, papers_per_day)
    state = _RangeState(start=start, end=end, seed=seed)
    lists = DailyLists()
    for day in _dates(start, end):
        rng = _rng(seed, "day", day.isoformat())
        items = [_new_paper(rng, day, state, lists.planted)
                 for _ in range(_paper_count(rng, day, papers_per_day))]
        for relisted in state.relists.pop(day, []):
            items.insert(rng.randint(0, len(items)), relisted)
        lists[day.isoformat()] = items
    return lists


def planted_truth(lists: dict[str, list[dict]]) -> dict[str, dict[str, bool]]:
    """Return the generator's planted decisions for every paper in ``lists``.

    Args:
        lists: The object returned by ``generate_daily_lists``. Decisions are recorded at
            generation time, not re-derived from text, so a plain dict (e.g. reloaded from JSON
            or rebuilt from some of the dates) is rejected.

    Returns:
        ``{paper_id: {"scaling": bool, "tractable": bool, "inference_time_scaling": bool}}``
        for each distinct paper id, in order of first appearance.

    Raises:
        TypeError: ``lists`` carries no recorded decisions.
    """
    if not isinstance(lists, DailyLists):
        raise TypeError("planted_truth() needs the DailyLists returned by generate_daily_lists(); "
                        "a plain dict has no recorded decisions")
    truth: dict[str, dict[str, bool]] = {}
    for items in lists.values():
        for item in items:
            paper_id = item["paper"]["id"]
            truth.setdefault(paper_id, dict(lists.planted[paper_id]))
    return truth


def write_daily_files(lists: dict[str, list[dict]], folder: pathlib.Path) -> list[pathlib.Path]:
    """Write one ``folder/YYYY-MM-DD.json`` file per date.

    Args:
        lists: ``{date: [item, ...]}`` as returned by ``generate_daily_lists``.
        folder: Destination; created if missing. Existing files for the same dates are replaced.

    Returns:
        The written paths, in the order of ``lists``.
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for date, items in lists.items():
        path = folder / f"{date}.json"
        path.write_text(json.dumps(items, indent=2, ensure_ascii=False), encoding="utf-8")
        paths.append(path)
    return paths


# --- range-level state ------------------------------------------------------------------------


@dataclass
class _RangeState:
    """State that spans days: arXiv id counters, pending re-listings, the submitter pool."""

    start: dt.date
    end: dt.date
    seed: int
    id_counters: dict[str, int] = field(default_factory=dict)
    relists: dict[dt.date, list[dict]] = field(default_factory=dict)
    submitters: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self.submitters = _submitter_pool(_rng(self.seed, "submitters"))

    def progress(self, day: dt.date) -> float:
        """Position of ``day`` in the range, 0.0 at start and 1.0 at end."""
        span = (self.end - self.start).days
        return (day - self.start).days / span if span else 0.0

    def next_arxiv_id(self, rng: random.Random, published: dt.datetime) -> str:
        """Allocate a fresh YYMM.NNNNN id in the month of ``published``."""
        month = published.strftime("%y%m")
        if month in self.id_counters:
            # Random gaps look like real arXiv numbering; shrink them near the 5-digit ceiling.
            step = rng.randint(1, 25) if self.id_counters[month] < 90_000 else 1
            self.id_counters[month] += step
        else:
            self.id_counters[month] = rng.randint(1, 1500)
        if self.id_counters[month] > 99_999:
            raise ValueError(f"more than 99999 papers in month {month}; lower papers_per_day")
        return f"{month}.{self.id_counters[month]:05d}"


def _validate_arguments(start: dt.date, end: dt.date, papers_per_day: tuple[int, int]) -> None:
    """Reject ranges and counts the generator cannot honour."""
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    low, high = papers_per_day
    if not 0 <= low <= high:
        raise ValueError(f"papers_per_day must satisfy 0 <= low <= high, got {papers_per_day}")


def _dates(start: dt.date, end: dt.date):
    """Yield every date from start to end inclusive."""
    for offset in range((end - start).days + 1):
        yield start + dt.timedelta(days=offset)


def _rng(seed: int, *parts: object) -> random.Random:
    """An independent random stream for (seed, parts), stable across runs and processes."""
    # sha256 rather than hash(): str hashes are salted per process.
    key = ":".join(str(part) for part in ("papertrends", seed, *parts))
    return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))


def _paper_count(rng: random.Random, day: dt.date, papers_per_day: tuple[int, int]) -> int:
    """How many new papers are listed on ``day``."""
    drawn = rng.randint(*papers_per_day)
    if day.weekday() >= 5:
        return max(0, drawn // 3 - rng.randint(0, 2))
    return max(1, drawn)


# --- one paper --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """What the generator decided to plant in one paper."""

    scaling: bool
    tractable: bool
    inference_time_scaling: bool
    scaling_near_miss: bool
    tractable_near_miss: bool

    def truth(self) -> dict[str, bool]:
        """The public planted-truth record."""
        return {"scaling": self.scaling, "tractable": self.tractable,
                "inference_time_scaling": self.inference_time_scaling}


def _decide(rng: random.Random, t: float) -> _Plan:
    """Draw the planted decisions for a paper listed at range position ``t``."""
    # Draw every number unconditionally so one decision never shifts the others' stream.
    scaling_roll, tractable_roll, its_roll, near_s, near_t = (rng.random() for _ in range(5))
    scaling = scaling_roll < SCALING_SHARE_START + (SCALING_SHARE_END - SCALING_SHARE_START) * t
    tractable = tractable_roll < TRACTABLE_SHARE
    its_share = max(0.0, (t - 0.5) / 0.5) * INFERENCE_TIME_SHARE_END
    return _Plan(
        scaling=scaling,
        tractable=tractable,
        inference_time_scaling=scaling and its_roll < its_share,
        scaling_near_miss=not scaling and near_s < SCALING_NEAR_MISS_SHARE,
        tractable_near_miss=not tractable and near_t < TRACTABLE_NEAR_MISS_SHARE,
    )


def _new_paper(rng: random.Random, day: dt.date, state: _RangeState,
               planted: dict[str, dict[str, bool]]) -> dict:
    """Build one API item listed on ``day``, record its plan, maybe schedule a re-listing."""
    plan = _decide(rng, state.progress(day))
    lag_days = rng.randint(0, MAX_PUBLISH_LAG_DAYS)
    submitted = _random_time(rng, day)
    published = _published_time(rng, day - dt.timedelta(days=lag_days), submitted)
    paper_id = state.next_arxiv_id(rng, published)
    slots = _slots(rng)
    title, title_has = _title(rng, slots, plan)
    # Key order follows the real API; optional keys are omitted, never null.
    paper = {
        "id": paper_id,
        "authors": _authors(rng, published),
        "publishedAt": _iso_seconds(published),
        "submittedOnDailyAt": _iso_millis(submitted),
        "title": title,
        "summary": _summary(rng, slots, plan, title_has),
        "upvotes": _upvotes(rng),
        "discussionId": _object_id(rng, submitted),
        **_optional_paper_keys(rng, day, slots, plan),
    }
    item = _wrap_paper(rng, day, state, paper, published, submitted)
    planted[paper_id] = plan.truth()
    _maybe_schedule_relist(rng, day, lag_days, state, item, published)
    return item


def _optional_paper_keys(rng: random.Random, day: dt.date, slots: dict[str, str],
                         plan: _Plan) -> dict:
    """githubRepo, projectPage and ai_keywords, each present only sometimes."""
    extra: dict = {}
    if slots["github_url"]:
        extra["githubRepo"] = slots["github_url"]
    if rng.random() < PROJECT_PAGE_SHARE:
        extra["projectPage"] = _project_page(rng, slots)
    if day >= AI_KEYWORDS_SINCE and rng.random() < 0.9:
        extra["ai_keywords"] = _ai_keywords(rng, slots, plan)
    return extra


def _wrap_paper(rng: random.Random, day: dt.date, state: _RangeState, paper: dict,
                published: dt.datetime, submitted: dt.datetime) -> dict:
    """The list item around ``paper``: repeated text, thumbnail, comments, submitter."""
    submitter, author_participates = _submitter(rng, state, paper["authors"])
    return {
        "paper": paper,
        "publishedAt": _item_published_at(day, published, submitted),
        "title": paper["title"],
        "summary": paper["summary"],
        "thumbnail": ("https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/"
                      f"{paper['id']}.png"),
        "numComments": rng.choices(range(6), weights=(55, 20, 10, 7, 5, 3))[0],
        "submittedBy": submitter,
        "isAuthorParticipating": author_participates,
    }


def _maybe_schedule_relist(rng: random.Random, day: dt.date, lag_days: int,
                           state: _RangeState, item: dict, published: dt.datetime) -> None:
    """Queue a copy of ``item`` on a later date, as happens for ~2% of real papers."""
    # Only papers that stay within the 0-3 day publish lag on the later date can be re-listed;
    # the probability is raised to compensate so the overall share stays near RELIST_SHARE.
    roll, offset_roll = rng.random(), rng.random()
    room = MAX_PUBLISH_LAG_DAYS - lag_days
    if room < 1 or roll >= RELIST_SHARE * (MAX_PUBLISH_LAG_DAYS + 1) / MAX_PUBLISH_LAG_DAYS:
        return
    later = day + dt.timedelta(days=1 + int(offset_roll * room))
    if later > state.end:
        return
    copy = json.loads(json.dumps(item))
    # Upvotes are a snapshot taken on the list day, so the later listing shows more.
    copy["paper"]["upvotes"] += rng.randint(1, 25)
    resubmitted = _random_time(rng, later)
    copy["paper"]["submittedOnDailyAt"] = _iso_millis(resubmitted)
    copy["publishedAt"] = _item_published_at(later, published, resubmitted)
    copy["numComments"] = min(5, item["numComments"] + rng.randint(0, 2))
    state.relists.setdefault(later, []).append(copy)


# --- text -------------------------------------------------------------------------------------


def _slots(rng: random.Random) -> dict[str, str]:
    """Draw the vocabulary for one paper, in Title Case and lower-case forms."""
    task, models = rng.choice(TASKS), rng.choice(MODELS)
    method, method2 = rng.sample(METHODS, 2)
    adj = rng.choice(ADJECTIVES)
    name = rng.choice(NAME_HEADS) + rng.choice(NAME_TAILS) + rng.choice(NAME_VERSIONS)
    bench1, bench2 = rng.sample(BENCHMARKS, 2)
    small, large = sorted(rng.sample(range(len(MODEL_SIZES)), 2))
    github = rng.random() < GITHUB_SHARE
    speedup = rng.uniform(1.3, 8.0)
    return {
        "Task": task, "Models": models, "Method": method, "Method2": method2, "Adj": adj,
        "Name": name, "Property": rng.choice(PROPERTIES), "Verb": rng.choice(VERBS),
        "Pct": str(rng.choice((30, 40, 50, 60, 75, 90))),
        "task": _lower_phrase(task), "models": _lower_phrase(models),
        "method": _lower_phrase(method), "method2": _lower_phrase(method2),
        "adj": _lower_phrase(adj), "a_adj": _with_article(_lower_phrase(adj)), "name": name,
        "area": rng.choice(AREAS), "app1": rng.choice(APPLICATIONS[:5]),
        "app2": rng.choice(APPLICATIONS[5:]), "challenge": rng.choice(CHALLENGES),
        "condition": rng.choice(CONDITIONS), "resource": rng.choice(RESOURCES),
        "quantity": rng.choice(QUANTITIES), "goal": rng.choice(GOALS),
        "step1": rng.choice(FIRST_STEPS), "step2": rng.choice(SECOND_STEPS),
        "component": rng.choice(COMPONENTS), "role": rng.choice(COMPONENT_ROLES),
        "bench1": bench1, "bench2": bench2,
        "size_small": MODEL_SIZES[small], "size_large": MODEL_SIZES[large],
        "finding": rng.choice(FINDINGS), "metric": rng.choice(METRICS),
        "n_benchmarks": str(rng.randint(3, 12)), "n_categories": str(rng.randint(4, 30)),
        "n_examples": f"{rng.randint(500, 20000):,}",
        "pct": f"{rng.uniform(1.5, 25.0):.1f}",
        # arXiv abstracts often keep the LaTeX escape; HF shows it verbatim.
        "pct_sign": "\\%" if rng.random() < 0.3 else "%",
        "speedup": f"{speedup:.1f}×" if rng.random() < 0.5 else f"{speedup:.1f}x",
        # GitHub repository names cannot contain "+", so "OmniGen++" lives at .../OmniGen.
        "github_url": (f"https://github.com/{rng.choice(GITHUB_ORGS)}/{name.replace('+', '')}"
                       if github else ""),
    }


def _title(rng: random.Random, slots: dict[str, str], plan: _Plan) -> tuple[str, set[str]]:
    """Pick and fill a title template; also return which planted words it carries."""
    roll = rng.random()
    if plan.inference_time_scaling and roll < 0.4:
        template, carries = rng.choice(PLANTED_INFERENCE_TIME_TITLES), {"scaling", "its"}
    elif plan.scaling and roll < 0.35:
        template, carries = rng.choice(PLANTED_SCALING_TITLES), {"scaling"}
    elif plan.tractable and roll < 0.2:
        template, carries = rng.choice(PLANTED_TRACTABLE_TITLES), {"tractable"}
    elif roll > 0.94:
        template, carries = rng.choice(TITLE_SPECIAL_TEMPLATES), set()
    else:
        template, carries = rng.choice(TITLE_TEMPLATES), set()
    title = template.format_map(slots)
    if rng.random() < LINE_WRAP_SHARE:
        title = _wrap_like_arxiv(title)
    return title, carries


def _wrap_like_arxiv(title: str) -> str:
    """Break the title once near its middle with arXiv's newline-plus-two-spaces continuation."""
    protected = [(title.find(p), title.find(p) + len(p)) for p in PLANTED_NO_WRAP if p in title]
    spaces = [i for i, ch in enumerate(title) if ch == " "
              and not any(lo <= i < hi for lo, hi in protected)]
    if not spaces:
        return title
    cut = min(spaces, key=lambda i: abs(i - len(title) // 2))
    return title[:cut] + "\n  " + title[cut + 1:]


# Abstract sections, in reading order; sentences are sorted by these ranks at the end.
_CONTEXT, _PROBLEM, _METHOD, _DETAIL, _RESULT, _RELEASE = range(6)


def _summary(rng: random.Random, slots: dict[str, str], plan: _Plan, title_has: set[str]) -> str:
    """Compose a 4-8 sentence, 600-1500 character abstract that carries the planted words."""
    results = rng.sample(RESULT_SENTENCES, 3)
    kept = [(_CONTEXT, rng.choice(CONTEXT_SENTENCES)), (_METHOD, rng.choice(METHOD_INTRO_SENTENCES)),
            (_RESULT, results[0])]
    # Planted and near-miss sentences are never dropped, so the decisions always reach the text.
    kept += [(rng.choice((_DETAIL, _RESULT)), s) for s in _planted_sentences(rng, plan, title_has)]
    spare = [(rank, _fill(s, slots)) for rank, s in _spare_sentences(rng, slots, results[1:])]
    filled = [(rank, _fill(s, slots)) for rank, s in kept]
    target_chars = rng.randint(SUMMARY_MIN_CHARS, SUMMARY_MAX_CHARS - 100)
    extra = _fit_length(filled, spare, target_chars)
    # sorted() is stable, so sentences of one section keep their drawn order.
    return " ".join(text for _, text in sorted(filled + extra, key=lambda pair: pair[0]))


def _planted_sentences(rng: random.Random, plan: _Plan, title_has: set[str]) -> list[str]:
    """Templates for the planted words (unless the title already has them) and near misses."""
    sentences = []
    if plan.inference_time_scaling and ("its" not in title_has or rng.random() < 0.5):
        sentences.append(rng.choice(PLANTED_INFERENCE_TIME_SENTENCES))
    elif plan.scaling and ("scaling" not in title_has or rng.random() < 0.6):
        sentences.append(rng.choice(PLANTED_SCALING_SENTENCES))
    if plan.tractable and ("tractable" not in title_has or rng.random() < 0.5):
        sentences.append(rng.choice(PLANTED_TRACTABLE_SENTENCES))
    if plan.scaling_near_miss:
        sentences.append(rng.choice(NEAR_MISS_SCALING_SENTENCES))
    if plan.tractable_near_miss:
        sentences.append(rng.choice(NEAR_MISS_TRACTABLE_SENTENCES))
    return sentences


def _spare_sentences(rng: random.Random, slots: dict[str, str],
                     results: list[str]) -> list[tuple[int, str]]:
    """Droppable sentences, shuffled, used to reach the target count and length."""
    details = rng.sample(METHOD_DETAIL_SENTENCES, 2)
    if rng.random() < 0.08:
        # Rare on purpose: LaTeX and μ should be present but not in every other abstract.
        details[0] = rng.choice(SPECIAL_DETAIL_SENTENCES)
    if slots["github_url"] and rng.random() < 0.5:
        release = RELEASE_URL_SENTENCE
    else:
        release = rng.choice(RELEASE_SENTENCES)
    pool = [(_PROBLEM, rng.choice(PROBLEM_SENTENCES)), *((_DETAIL, d) for d in details),
            *((_RESULT, r) for r in results), (_RELEASE, release)]
    rng.shuffle(pool)
    return pool


def _fit_length(kept: list[tuple[int, str]], spare: list[tuple[int, str]],
                target_chars: int) -> list[tuple[int, str]]:
    """Pick spare sentences so the abstract reaches ``target_chars`` within all the bounds."""
    optional: list[tuple[int, str]] = []

    def chars() -> int:
        return sum(len(text) + 1 for _, text in kept + optional) - 1

    def count() -> int:
        return len(kept) + len(optional)

    while spare and count() < SUMMARY_MAX_SENTENCES and (
            chars() < target_chars or count() < SUMMARY_MIN_SENTENCES):
        optional.append(spare.pop(0))
    # Overshoot is possible with long sentences; drop the longest droppable ones.
    while chars() > SUMMARY_MAX_CHARS and optional and count() > SUMMARY_MIN_SENTENCES:
        optional.remove(max(optional, key=lambda pair: len(pair[1])))
    return optional


def _fill(template: str, slots: dict[str, str]) -> str:
    """Format a sentence template and capitalize its first letter."""
    text = template.format_map(slots)
    return text[:1].upper() + text[1:]


def _lower_phrase(phrase: str) -> str:
    """Lower-case a Title Case phrase for mid-sentence use, keeping acronyms like LLMs or 3D."""
    def lower_part(part: str) -> str:
        if part in KEEP_CAPITALIZED or not (part[:1].isupper() and part[1:].islower()):
            return part
        return part.lower()

    return " ".join("-".join(lower_part(p) for p in word.split("-")) for word in phrase.split(" "))


def _with_article(word: str) -> str:
    """Prefix 'a' or 'an'."""
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _ai_keywords(rng: random.Random, slots: dict[str, str], plan: _Plan) -> list[str]:
    """HF's machine-extracted keywords: mostly the paper's own terms, de-duplicated."""
    candidates = [slots["method"], slots["method2"], slots["task"], slots["models"],
                  slots["component"], slots["bench1"], slots["challenge"]]
    if plan.inference_time_scaling:
        candidates.insert(0, "inference-time scaling")
    elif plan.scaling:
        candidates.insert(0, "scaling laws")
    if plan.tractable:
        candidates.append("tractable inference")
    keywords = list(dict.fromkeys(candidates))
    return keywords[: rng.randint(3, len(keywords))]


# --- people, ids, times, numbers --------------------------------------------------------------


def _authors(rng: random.Random, published: dt.datetime) -> list[dict]:
    """A realistic author list: usually 3-8 people, sometimes one, sometimes a dozen or more."""
    count = rng.choices(range(1, 17), weights=(4, 6, 10, 12, 12, 11, 10, 8, 6, 5, 4, 3, 3, 2, 2, 2))[0]
    return [{"_id": _object_id(rng, published), "name": _person_name(rng),
             "hidden": rng.random() < 0.01} for _ in range(count)]


def _person_name(rng: random.Random) -> str:
    """First and last name drawn from international lists (some non-ASCII)."""
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _handle(name: str, rng: random.Random) -> str:
    """An ASCII Hugging Face user name derived from a person's name."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    first, _, last = ascii_name.lower().replace("-", "").partition(" ")
    style = rng.randrange(3)
    if style == 0:
        return f"{first}{last}"
    if style == 1:
        return f"{first[:1]}{last}{rng.randint(1, 99)}"
    return f"{first}-{last}"


def _submitter_pool(rng: random.Random) -> list[dict]:
    """The regular daily-papers submitters; AK comes first because he submits the most."""
    base = dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc)
    pool = [{"_id": _object_id(rng, base), "fullname": "AK", "user": "akhaliq", "type": "user"}]
    for _ in range(40):
        name = _person_name(rng)
        joined = base + dt.timedelta(days=rng.randint(0, 1400))
        pool.append({"_id": _object_id(rng, joined), "fullname": name,
                     "user": _handle(name, rng), "type": "user"})
    return pool


def _submitter(rng: random.Random, state: _RangeState, authors: list[dict]) -> tuple[dict, bool]:
    """Who submitted the paper, and whether an author takes part in the discussion."""
    roll = rng.random()
    if roll < 0.3:
        # Authors often submit their own paper; then they are participating by definition.
        author = authors[0]
        return ({"_id": _object_id(rng, dt.datetime(2023, 6, 1, tzinfo=dt.timezone.utc)),
                 "fullname": author["name"], "user": _handle(author["name"], rng),
                 "type": "user"}, True)
    regular = state.submitters[0] if roll < 0.6 else rng.choice(state.submitters[1:])
    return dict(regular), rng.random() < 0.25


def _object_id(rng: random.Random, when: dt.datetime) -> str:
    """A 24-hex MongoDB ObjectId whose first 4 bytes are the timestamp, like HF's ids."""
    return f"{int(when.timestamp()) & 0xFFFFFFFF:08x}{rng.getrandbits(64):016x}"


def _random_time(rng: random.Random, day: dt.date) -> dt.datetime:
    """A random UTC instant on ``day`` with millisecond precision."""
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
    return midnight + dt.timedelta(milliseconds=rng.randrange(86_400_000))


def _published_time(rng: random.Random, day: dt.date, submitted: dt.datetime) -> dt.datetime:
    """arXiv publication instant on ``day`` (whole seconds), never after the HF submission."""
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
    latest = min(86_400, int((submitted - midnight).total_seconds()))
    return midnight + dt.timedelta(seconds=rng.randrange(max(1, latest)))


def _item_published_at(day: dt.date, published: dt.datetime, submitted: dt.datetime) -> str:
    """The item-level publishedAt, reproducing the real API's change of meaning in March 2025."""
    if day < EASTERN_PUBLISHED_AT_SINCE:
        return _iso_millis(submitted)
    return _iso_seconds(published - _us_eastern_offset(published))


def _us_eastern_offset(when: dt.datetime) -> dt.timedelta:
    """Hours US/Eastern is behind UTC at ``when`` (4 in daylight time, else 5), without tzdata."""
    def nth_sunday(month: int, nth: int) -> dt.date:
        first = dt.date(when.year, month, 1)
        return first + dt.timedelta(days=(6 - first.weekday()) % 7 + 7 * (nth - 1))

    # Since 2007: from the 2nd Sunday of March, 02:00 EST (07:00 UTC), to the 1st Sunday of
    # November, 02:00 EDT (06:00 UTC).
    begins = dt.datetime.combine(nth_sunday(3, 2), dt.time(7), tzinfo=dt.timezone.utc)
    ends = dt.datetime.combine(nth_sunday(11, 1), dt.time(6), tzinfo=dt.timezone.utc)
    return dt.timedelta(hours=4 if begins <= when < ends else 5)


def _iso_seconds(when: dt.datetime) -> str:
    """Format like HF's publishedAt: ``2025-05-25T13:51:17.000Z``."""
    return when.strftime("%Y-%m-%dT%H:%M:%S") + ".000Z"


def _iso_millis(when: dt.datetime) -> str:
    """Format like HF's submittedOnDailyAt: ``2025-05-27T02:06:05.849Z``."""
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{when.microsecond // 1000:03d}Z"


def _upvotes(rng: random.Random) -> int:
    """Heavy-tailed upvotes: median about 7, roughly 1% above 100."""
    return min(900, int(rng.lognormvariate(2.0, 1.1)))


def _project_page(rng: random.Random, slots: dict[str, str]) -> str:
    """A plausible project page URL for the paper."""
    slug = slots["Name"].lower().replace("+", "p").replace(".", "-")
    if rng.random() < 0.5:
        return f"https://{slug}.github.io/"
    return f"https://{rng.choice(GITHUB_ORGS).lower()}.github.io/{slug}/"
