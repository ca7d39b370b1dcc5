"""Writes data/in_distribution.jsonl and data/variant.jsonl for the ood-variant probe.

Each problem appears twice with the same numbers, options and solution method: once in the canonical
template and once reworded (clauses reordered, other nouns, an irrelevant sentence added). Items share
ids across the two files so the accuracy drop is paired. Deterministic (fixed seed).
"""

import json
import random
from pathlib import Path

SEED = 20250301
N = 150
# (canonical, variant, solve): the variant keeps the operation, changes the surface.
TEMPLATES = [
    (
        "Tom has {a} marbles. He gets {b} more. How many marbles does Tom have?",
        "The bus was late again. After being handed {b} extra shells, a girl who started out with {a} shells"
        " counts them. What total does she reach?",
        lambda a, b: a + b,
    ),
    (
        "Tom has {a} marbles. He loses {b}. How many marbles does Tom have?",
        "Of the {a} jars on a shelf, {b} fall and break while the radio plays. How many jars are still whole?",
        lambda a, b: a - b,
    ),
    (
        "Tom has {a} bags with {b} marbles in each. How many marbles does Tom have?",
        "A baker, who also likes to sing, lines up {b} rows of rolls with {a} rolls in every row."
        " How many rolls is that?",
        lambda a, b: a * b,
    ),
]


def options(rng: random.Random, answer: int) -> tuple[list[str], int]:
    wrong = set()
    while len(wrong) < 3:
        candidate = answer + rng.choice([-10, -2, -1, 1, 2, 10])
        if candidate >= 0 and candidate != answer:
            wrong.add(candidate)
    values = [answer, *sorted(wrong)]
    rng.shuffle(values)
    return [str(v) for v in values], values.index(answer)


def pairs() -> tuple[list[dict], list[dict]]:
    rng = random.Random(SEED)
    canonical, variant = [], []
    for i in range(N):
        plain, reworded, solve = TEMPLATES[i % len(TEMPLATES)]
        a = rng.randint(11, 60)
        b = rng.randint(2, 9) if solve(3, 2) == 6 else rng.randint(2, min(a - 1, 40))
        choices, answer = options(rng, solve(a, b))
        common = {"id": f"ood-{i:04d}", "choices": choices, "answer": answer, "operation": ["add", "sub", "mul"][i % 3]}
        canonical.append({**common, "question": plain.format(a=a, b=b)})
        variant.append({**common, "question": reworded.format(a=a, b=b)})
    return canonical, variant


def main() -> None:
    folder = Path(__file__).resolve().parent / "data"
    for name, rows in zip(("in_distribution", "variant"), pairs(), strict=True):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {folder}")


if __name__ == "__main__":
    main()
