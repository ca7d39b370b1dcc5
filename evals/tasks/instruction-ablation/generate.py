"""Writes data/items.jsonl for the instruction-ablation probe: words labelled with one of four categories.

Deterministic: a fixed seed shuffles the items; run it again and the file is byte-identical.
"""

import json
import random
from pathlib import Path

SEED = 20230518
LABELS = ["animal", "food", "job", "country"]
WORDS = {
    "animal": "dog cat horse cow sheep goat pig rabbit mouse lion tiger bear wolf fox deer zebra giraffe elephant "
    "monkey camel donkey otter beaver squirrel hedgehog badger whale dolphin shark eagle owl parrot pigeon duck goose "
    "swan frog toad snake lizard turtle crocodile spider bee ant butterfly moth beetle snail worm crab lobster "
    "octopus penguin kangaroo koala panda gorilla leopard cheetah hyena moose bison",
    "food": "bread rice pasta cheese butter apple banana orange grape lemon cherry peach pear plum mango melon "
    "potato carrot onion garlic tomato cucumber lettuce cabbage spinach pea bean lentil soup salad pizza burger "
    "sandwich noodle dumpling pancake waffle muffin cookie cake pie yogurt honey jam sausage bacon ham steak "
    "chicken omelette porridge cereal tofu sushi taco burrito curry stew popcorn pretzel chocolate",
    "job": "teacher doctor nurse farmer baker butcher carpenter plumber electrician lawyer judge pilot sailor "
    "soldier police firefighter chef waiter cashier clerk banker accountant engineer architect scientist chemist "
    "biologist dentist surgeon pharmacist vet painter sculptor musician singer actor dancer writer poet journalist "
    "editor photographer tailor barber gardener miner mechanic driver librarian programmer designer translator "
    "secretary manager cleaner janitor plumber",
    "country": "France Germany Spain Italy Portugal Greece Norway Sweden Finland Denmark Poland Austria Hungary "
    "Ireland Iceland Belgium Netherlands Switzerland Russia Ukraine Turkey Egypt Morocco Nigeria Kenya Ethiopia "
    "Ghana Brazil Argentina Chile Peru Colombia Mexico Canada Cuba Jamaica India China Japan Korea Vietnam Thailand "
    "Indonesia Malaysia Pakistan Iran Iraq Israel Australia Chad Mongolia Nepal Bolivia Uruguay Venezuela",
}


def items() -> list[dict]:
    rows, seen = [], set()
    for label, words in WORDS.items():
        for word in words.split():
            if word in seen:
                continue
            seen.add(word)
            rows.append({"word": word, "choices": LABELS, "answer": LABELS.index(label), "category": label})
    random.Random(SEED).shuffle(rows)
    return [{"id": f"ia-{i:04d}", **row} for i, row in enumerate(rows)]


def main() -> None:
    out = Path(__file__).resolve().parent / "data" / "items.jsonl"
    out.write_text("".join(json.dumps(row) + "\n" for row in items()), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
