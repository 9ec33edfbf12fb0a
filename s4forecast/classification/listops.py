"""LRA ListOps (Tay et al. 2021, after Nangia & Bowman 2018): nested MAX / MIN / MED / SUM_MOD
expressions over digits, label = the expression's value (0-9). The sampling process of the LRA
release's generator (``lra_benchmarks/data/listops.py``, run with its LRA settings): the root is at
depth 1 and every node above ``max_depth`` = 10 is an operator with probability 1/4 (else a digit),
nodes at ``max_depth`` are digits, so expressions nest at most 9 operators deep; an operator takes
2-10 arguments and is one of the four uniformly; trees are kept if ``500 < length < 2000`` tokens
(brackets included, parentheses not) and are unique across the splits.

Expressions are token sequences such as ``[MAX 2 9 [MIN 4 7 ] 0 ]``; ``MED`` is the integer part
of the median, ``SM`` the sum modulo 10. The official TSV release (``Source\\tTarget`` columns,
with extra ``(``/``)`` tokens) is read by :func:`read_tsv`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

OPERATORS = {"[MAX": max, "[MIN": min, "[MED": lambda a: int(np.median(a)), "[SM": lambda a: sum(a) % 10}
VOCAB = ["<pad>", *map(str, range(10)), *OPERATORS, "]", "(", ")"]
TOKEN_ID = {t: i for i, t in enumerate(VOCAB)}
_DIGITS = VOCAB[1:11]  # one string object per digit, shared by every expression: str(np.int64) makes a new one
# each time, which took 5.6 GB of 100,000 expressions' token lists (and an 18 GB peak while caching them)


def evaluate(tokens: list[str]) -> int:
    """Reference evaluation of a token sequence with an explicit stack (parentheses are ignored).

    Parameters
    ----------
    tokens
        An expression's tokens.

    Returns
    -------
    int
        Its value, 0..9.
    """
    stack: list[list] = [[]]
    for tok in tokens:
        if tok in OPERATORS:
            stack.append([tok])
        elif tok == "]":
            op, *args = stack.pop()
            stack[-1].append(OPERATORS[op](args))
        elif tok.isdigit():
            stack[-1].append(int(tok))
        elif tok not in "()":
            raise ValueError(f"unknown ListOps token {tok!r}")
    if len(stack) != 1 or len(stack[0]) != 1:
        raise ValueError("unbalanced ListOps expression")
    return stack[0][0]


_OPERATOR_TOKENS = list(OPERATORS)


def _tree(rng: np.random.Generator, depth: int, max_depth: int, max_args: int, p_leaf: float) -> list[str]:
    """One subtree at ``depth`` (the root is at 1 and always an operator: a digit alone is never
    long enough to be kept)."""
    if depth >= max_depth or (depth > 1 and rng.random() < p_leaf):
        return [_DIGITS[rng.integers(10)]]
    tokens = [_OPERATOR_TOKENS[rng.integers(len(OPERATORS))]]
    for _ in range(rng.integers(2, max_args + 1)):
        tokens += _tree(rng, depth + 1, max_depth, max_args, p_leaf)
    return tokens + ["]"]


def generate(
    n: int,
    seed: int = 0,
    min_length: int = 500,
    max_length: int = 2000,
    max_depth: int = 10,
    max_args: int = 10,
    p_leaf: float = 0.75,
) -> list[tuple[list[str], int]]:
    """``n`` distinct (tokens, label) examples with ``min_length < len(tokens) < max_length`` (the
    release's strict bounds), by rejection sampling. Generate the splits in one call and cut it (as
    :func:`generate_splits` does) so that no expression is in two of them.

    Parameters
    ----------
    n
        Examples.
    seed
        The generator's seed.
    min_length, max_length
        Strict bounds of the token count.
    max_depth, max_args
        Of the expression tree.
    p_leaf
        The probability of a leaf below the top level.

    Returns
    -------
    list of tuple
        (tokens, label).
    """
    rng = np.random.default_rng(seed)
    out, seen = [], set()
    while len(out) < n:
        tokens = _tree(rng, 1, max_depth, max_args, p_leaf)
        if min_length < len(tokens) < max_length and (key := " ".join(tokens)) not in seen:
            seen.add(key)
            out.append((tokens, evaluate(tokens)))
    return out


def generate_splits(sizes: dict[str, int], seed: int = 0, **kwargs) -> dict[str, list[tuple[list[str], int]]]:
    """Disjoint splits, e.g. ``{"train": 20000, "val": 2000, "test": 2000}``, cut in that order from one
    :func:`generate` call (``kwargs`` go to it), as the release cuts train / val / test.

    Parameters
    ----------
    sizes
        Split name -> examples.
    seed
        The generator's seed.
    **kwargs
        :func:`generate`'s.

    Returns
    -------
    dict
    """
    examples = generate(sum(sizes.values()), seed=seed, **kwargs)
    bounds = np.cumsum([0, *sizes.values()])
    return {name: examples[a:b] for name, a, b in zip(sizes, bounds[:-1], bounds[1:])}


def read_tsv(path: str | Path) -> list[tuple[list[str], int]]:
    """The official LRA release: a header, then ``Source<TAB>Target`` rows.

    Parameters
    ----------
    path
        A release TSV file.

    Returns
    -------
    list of tuple
        (tokens, label).
    """
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    if not rows or rows[0][:2] != ["Source", "Target"]:
        raise ValueError(f"{path}: expected a 'Source<TAB>Target' header")
    return [(src.split(), int(tgt)) for src, tgt in rows[1:]]


class ListOps(Dataset):
    """(token ids (length,) int64, label, length) per example.

    Parameters
    ----------
    examples
        (tokens, label) pairs.
    """

    def __init__(self, examples: list[tuple[list[str], int]]):
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def lengths(self) -> list[int]:
        """Each expression's token count (what length batching sorts by).

        Returns
        -------
        list of int
        """
        return [len(tokens) for tokens, _ in self.examples]

    def __getitem__(self, i):
        tokens, label = self.examples[i]
        ids = torch.tensor([TOKEN_ID[t] for t in tokens], dtype=torch.long)
        return ids, torch.tensor(label), torch.tensor(len(ids))
