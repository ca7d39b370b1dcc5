"""Writes data/items.jsonl for the nli-frequency probe from a hand-written hyponym -> hypernym list.

"A {hyponym}" entails "a {hypernym}"; the reverse does not. Each item records both words' Zipf
frequencies (wordfreq, English) and whether "the hypothesis word is the more frequent one" agrees with
the gold label: the shortcut the probe measures. Pairs whose Zipf values differ by < 0.1 are left out.
Deterministic (fixed seed for the template choice and the order).
"""

import json
import random
from pathlib import Path

from wordfreq import zipf_frequency

SEED = 20250527
PAIRS = """
dog animal|cat animal|horse animal|sparrow bird|eagle bird|owl bird|salmon fish|trout fish|shark fish
rose flower|tulip flower|daisy flower|oak tree|pine tree|maple tree|birch tree|apple fruit|banana fruit
mango fruit|cherry fruit|carrot vegetable|onion vegetable|spinach vegetable|cabbage vegetable
hammer tool|wrench tool|saw tool|chisel tool|drill tool|car vehicle|truck vehicle|bus vehicle|tractor vehicle
bicycle vehicle|van vehicle|piano instrument|violin instrument|guitar instrument|flute instrument
trumpet instrument|drum instrument|shirt garment|jacket garment|sweater garment|skirt garment
chair furniture|table furniture|sofa furniture|desk furniture|wardrobe furniture|bed furniture
knife utensil|spoon utensil|fork utensil|ladle utensil|whisk utensil|wine drink|beer drink|coffee drink
tea drink|juice drink|milk drink|iron metal|copper metal|gold metal|silver metal|zinc metal|tin metal
soccer sport|tennis sport|rugby sport|cricket sport|golf sport|hockey sport|boxing sport
novel book|dictionary book|atlas book|poem text|essay text|letter text|sedan car|taxi car
ant insect|bee insect|wasp insect|beetle insect|moth insect|butterfly insect|mosquito insect
snake reptile|lizard reptile|turtle reptile|crocodile reptile|frog amphibian|toad amphibian
nurse worker|miner worker|plumber worker|farmer worker|cousin relative|aunt relative|uncle relative
nephew relative|niece relative|hurricane storm|blizzard storm|tornado storm|river stream|rifle weapon
sword weapon|spear weapon|dagger weapon|pistol weapon|cannon weapon|rain weather|snow weather|fog weather
hotel building|church building|school building|hospital building|castle building|barn building
diamond gem|ruby gem|emerald gem|sapphire gem|oxygen gas|helium gas|hydrogen gas|nitrogen gas
wheat grain|barley grain|oats grain|rice grain|corn grain|ship boat|canoe boat|yacht boat|ferry boat
""".replace("\n", "|").strip("|")
TEMPLATES = ["There is a {w} in the picture.", "I saw a {w} yesterday.", "She pointed at a {w}."]


def with_article(template: str, word: str) -> str:
    text = template.format(w=word)
    return text.replace(" a ", " an ", 1) if word[0] in "aeiou" else text


def items() -> list[dict]:
    rng = random.Random(SEED)
    rows = []
    for pair in PAIRS.split("|"):
        hyponym, hypernym = pair.split()
        z_hypo, z_hyper = zipf_frequency(hyponym, "en"), zipf_frequency(hypernym, "en")
        if abs(z_hypo - z_hyper) < 0.1:
            continue
        template = rng.choice(TEMPLATES)
        for premise_word, hypothesis_word, entails in ((hyponym, hypernym, True), (hypernym, hyponym, False)):
            z_p, z_h = zipf_frequency(premise_word, "en"), zipf_frequency(hypothesis_word, "en")
            rows.append(
                {
                    "premise": with_article(template, premise_word),
                    "hypothesis": with_article(template, hypothesis_word),
                    "choices": ["yes", "no"],
                    "answer": 0 if entails else 1,
                    "zipf_premise": z_p,
                    "zipf_hypothesis": z_h,
                    "freq_agrees": (z_h > z_p) == entails,
                }
            )
    rng.shuffle(rows)
    return [{"id": f"nli-{i:04d}", **row} for i, row in enumerate(rows)]


def main() -> None:
    out = Path(__file__).resolve().parent / "data" / "items.jsonl"
    out.write_text("".join(json.dumps(row) + "\n" for row in items()), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
