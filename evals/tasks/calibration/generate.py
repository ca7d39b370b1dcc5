"""Writes data/items.jsonl for the calibration probe: capitals, sums and comparisons with four options.

A mix of easy and hard items, so confidence has something to track. Deterministic (fixed seed).
"""

import json
import random
from pathlib import Path

SEED = 20250722
CAPITALS = {
    "France": "Paris",
    "Germany": "Berlin",
    "Italy": "Rome",
    "Spain": "Madrid",
    "Portugal": "Lisbon",
    "Greece": "Athens",
    "Norway": "Oslo",
    "Sweden": "Stockholm",
    "Finland": "Helsinki",
    "Denmark": "Copenhagen",
    "Poland": "Warsaw",
    "Austria": "Vienna",
    "Hungary": "Budapest",
    "Ireland": "Dublin",
    "Belgium": "Brussels",
    "Netherlands": "Amsterdam",
    "Switzerland": "Bern",
    "Russia": "Moscow",
    "Ukraine": "Kyiv",
    "Turkey": "Ankara",
    "Egypt": "Cairo",
    "Morocco": "Rabat",
    "Nigeria": "Abuja",
    "Kenya": "Nairobi",
    "Ethiopia": "Addis Ababa",
    "Ghana": "Accra",
    "Brazil": "Brasilia",
    "Argentina": "Buenos Aires",
    "Chile": "Santiago",
    "Peru": "Lima",
    "Colombia": "Bogota",
    "Mexico": "Mexico City",
    "Canada": "Ottawa",
    "Cuba": "Havana",
    "India": "New Delhi",
    "China": "Beijing",
    "Japan": "Tokyo",
    "Vietnam": "Hanoi",
    "Thailand": "Bangkok",
    "Indonesia": "Jakarta",
    "Pakistan": "Islamabad",
    "Iran": "Tehran",
    "Iraq": "Baghdad",
    "Australia": "Canberra",
    "Mongolia": "Ulaanbaatar",
    "Nepal": "Kathmandu",
    "Bolivia": "Sucre",
    "Uruguay": "Montevideo",
    "Venezuela": "Caracas",
    "Iceland": "Reykjavik",
    "Czechia": "Prague",
    "Romania": "Bucharest",
    "Bulgaria": "Sofia",
    "Serbia": "Belgrade",
    "Croatia": "Zagreb",
    "Slovakia": "Bratislava",
    "Latvia": "Riga",
    "Lithuania": "Vilnius",
    "Estonia": "Tallinn",
    "Philippines": "Manila",
}


def four(rng: random.Random, right: str, pool: list[str]) -> tuple[list[str], int]:
    options = [right, *rng.sample([p for p in pool if p != right], 3)]
    rng.shuffle(options)
    return options, options.index(right)


def items() -> list[dict]:
    rng = random.Random(SEED)
    rows = []
    cities = list(CAPITALS.values())
    for country, city in CAPITALS.items():
        choices, answer = four(rng, city, cities)
        rows.append(
            {"question": f"What is the capital of {country}?", "choices": choices, "answer": answer, "kind": "capital"}
        )
    for _ in range(120):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        right = a + b
        pool = sorted({right + d for d in (-11, -10, -2, -1, 1, 2, 9, 10, 11)})
        choices, answer = four(rng, str(right), [str(p) for p in pool] + [str(right)])
        rows.append({"question": f"What is {a} plus {b}?", "choices": choices, "answer": answer, "kind": "sum"})
    for _ in range(120):
        values = rng.sample(range(1, 1000), 4)
        question = "Which number is the largest?" if rng.random() < 0.5 else "Which number is the smallest?"
        right = max(values) if "largest" in question else min(values)
        choices = [str(v) for v in values]
        rows.append({"question": question, "choices": choices, "answer": choices.index(str(right)), "kind": "compare"})
    rng.shuffle(rows)
    return [{"id": f"cal-{i:04d}", **row} for i, row in enumerate(rows)]


def main() -> None:
    out = Path(__file__).resolve().parent / "data" / "items.jsonl"
    out.write_text("".join(json.dumps(row) + "\n" for row in items()), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
