"""The generated LRA tasks against the statistics of the LRA release.

The release files are not on this machine (../shared/data/README.md), so the reference is the
release's own sampling process, restated here independently of the package (Python's ``random``, the
release script's constants and recursion), and samples of the package's generator must be
statistically indistinguishable from it: two-sample tests at the 1% level on fixed seeds.
"""

import random
from collections import Counter, deque

import numpy as np
import pytest
from scipy import ndimage, stats

from s4forecast.classification import listops, pathfinder

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


# Pathfinder-32 as LRA's TFDS builder generated it: contour_length 14 paddles of 2 pixels with gaps of
# 1, distractor_length 14 // 3 = 4 paddles, num_distractor_snakes 20 // 4 = 5, two contours per image.
RELEASE_CONTOUR_PIXELS, RELEASE_DISTRACTOR_PIXELS, RELEASE_DISTRACTORS = 14 * 3 - 1, 4 * 3 - 1, 5


@pytest.fixture(scope="module")
def pathfinder_images():
    return pathfinder.generate(200, size=32, seed=0)


def components(img: np.ndarray) -> tuple[np.ndarray, list[int]]:
    labelled, n = ndimage.label(img > 0, structure=np.ones((3, 3)))
    return labelled, sorted((np.bincount(labelled.ravel())[1:]).tolist(), reverse=True)


def farthest_step(mask: np.ndarray, start) -> int:
    """Largest number of 8-connected steps from ``start`` to a pixel of ``mask`` (breadth-first)."""
    dist, queue = {tuple(start): 0}, deque([tuple(start)])
    while queue:
        y, x = queue.popleft()
        for q in ((y + dy, x + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)):
            if 0 <= q[0] < mask.shape[0] and 0 <= q[1] < mask.shape[1] and mask[q] and q not in dist:
                dist[q] = dist[(y, x)] + 1
                queue.append(q)
    return max(dist.values())


def test_pathfinder_contours_and_distractors_match_the_release(pathfinder_images):
    images, labels = pathfinder_images
    assert labels.mean() == 0.5
    expected = [RELEASE_CONTOUR_PIXELS] * 2 + [RELEASE_DISTRACTOR_PIXELS] * RELEASE_DISTRACTORS
    for img, label in zip(images, labels):
        labelled, sizes = components(img)
        assert sizes == expected  # both classes: two contours and five distractors, none touching
        dots = pathfinder.dots(img)
        owners = {int(labelled[d]) for d in dots}
        assert len(dots) == 2 and all(np.bincount(labelled.ravel())[o] == RELEASE_CONTOUR_PIXELS for o in owners)
        assert (len(owners) == 1) == bool(label) == pathfinder.connected(img)
        for y, x in dots:  # a dot ends its contour, a simple path: one neighbour, the far end 40 steps away
            assert (img[y - 1 : y + 2, x - 1 : x + 2] > 0).sum() == 2
            assert farthest_step(labelled == labelled[y, x], (y, x)) == RELEASE_CONTOUR_PIXELS - 1


def test_pathfinder_ink_does_not_give_the_label_away(pathfinder_images):
    images, labels = pathfinder_images
    for level in (pathfinder.BRIGHT, pathfinder.DIM):
        counts = (images == level).sum(axis=(1, 2))
        pos, neg = counts[labels == 1], counts[labels == 0]
        assert pos.mean() == neg.mean() and pos.std() == neg.std() == 0
    bright = (images >= pathfinder.BRIGHT).sum(axis=(1, 2))  # paddles and dots
    assert (bright == 2 * 14 * 2 + RELEASE_DISTRACTORS * 4 * 2).all()  # 2-pixel paddles; the gaps are dim


def test_pathfinder_settings_are_checked():
    with pytest.raises(TypeError, match="distractor"):
        pathfinder.generate(2, distractor=3)
    with pytest.raises(ValueError, match="release settings for size 64"):
        pathfinder.generate(2, size=64)
