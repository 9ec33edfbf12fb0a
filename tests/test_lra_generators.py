"""The generated LRA tasks against the statistics of the LRA release.

The release files are not on this machine (../shared/data/README.md), so the reference is the
release's own sampling process, restated here independently of the package (Python's ``random``, the
release script's constants and recursion), and samples of the package's generator must be
statistically indistinguishable from it: two-sample tests at the 1% level on fixed seeds.
"""

import random
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from s4forecast.classification import listops

RELEASE_OPERATORS = ["[MIN", "[MAX", "[MED", "[SM"]


def release_listops_tree(rnd: random.Random, depth: int = 1, max_depth: int = 10, max_args: int = 10) -> list[str]:
    """``generate_tree`` of lra_benchmarks/data/listops.py with its LRA settings (VALUE_P = 0.25, root
    at depth 1, a forced value at max_depth, 2..max_args arguments), flattened without parentheses."""
    r = rnd.random() if depth < max_depth else 1
    if r > 0.25:
        return [str(rnd.choice(range(10)))]
    args = [release_listops_tree(rnd, depth + 1, max_depth, max_args) for _ in range(rnd.randint(2, max_args))]
    return [rnd.choice(RELEASE_OPERATORS), *(t for a in args for t in a), "]"]


def release_listops(n: int, seed: int) -> list[list[str]]:
    rnd, out = random.Random(seed), []
    while len(out) < n:
        tokens = release_listops_tree(rnd)
        if 500 < len(tokens) < 2000:
            out.append(tokens)
    return out


def nesting_depth(tokens) -> int:
    return int(max(np.cumsum([(t in listops.OPERATORS) - (t == "]") for t in tokens])))


def arguments_per_operator(tokens) -> list[int]:
    counts, stack = [], []
    for t in tokens:
        if stack and t != "]":
            stack[-1] += 1  # a digit or an operator is one argument of the enclosing operator
        if t in listops.OPERATORS:
            stack.append(0)
        elif t == "]":
            counts.append(stack.pop())
    return counts


def same_distribution(a, b) -> float:
    """p-value of a chi-square test that two samples of categories come from one distribution."""
    categories = sorted(set(a) | set(b))
    table = [[Counter(a)[c] for c in categories], [Counter(b)[c] for c in categories]]
    return 1.0 if len(categories) == 1 else stats.chi2_contingency(table).pvalue


@pytest.fixture(scope="module")
def samples():
    ours = [tokens for tokens, _ in listops.generate(600, seed=0)]
    return ours, release_listops(600, seed=1)


def test_listops_lengths_and_depth_match_the_release(samples):
    ours, release = samples
    lengths = [len(t) for t in ours]
    assert min(lengths) > 500 and max(lengths) < 2000
    assert stats.ks_2samp(lengths, [len(t) for t in release]).pvalue > 0.01
    depths, release_depths = [nesting_depth(t) for t in ours], [nesting_depth(t) for t in release]
    assert max(depths) == max(release_depths) == 9  # max_depth 10 counts the digits' level
    assert same_distribution(depths, release_depths) > 0.01
    n_ops = [sum(t in listops.OPERATORS for t in tokens) for tokens in ours]
    assert stats.ks_2samp(n_ops, [sum(t in listops.OPERATORS for t in tokens) for tokens in release]).pvalue > 0.01


def test_listops_operators_arguments_and_labels_match_the_release(samples):
    ours, release = samples
    ops = [t for tokens in ours for t in tokens if t in listops.OPERATORS]
    assert stats.chisquare([ops.count(o) for o in RELEASE_OPERATORS]).pvalue > 0.01  # uniform, as released
    args = [k for tokens in ours for k in arguments_per_operator(tokens)]
    assert min(args) == 2 and max(args) == 10
    assert same_distribution(args, [k for tokens in release for k in arguments_per_operator(tokens)]) > 0.01
    labels = [listops.evaluate(t) for t in ours]
    assert same_distribution(labels, [listops.evaluate(t) for t in release]) > 0.01
    assert len(set(labels)) == 10


def test_listops_splits_are_disjoint():
    splits = listops.generate_splits({"train": 40, "val": 10, "test": 10}, seed=0, min_length=10, max_length=60)
    assert [len(s) for s in splits.values()] == [40, 10, 10]
    keys = [" ".join(tokens) for split in splits.values() for tokens, _ in split]
    assert len(set(keys)) == len(keys)
