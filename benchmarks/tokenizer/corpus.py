#!/usr/bin/env python3
"""Writes the tokenizer benchmark corpus: ~10 MB of mixed lines (prose, code, many scripts,
emoji, whitespace runs, digits) drawn with a fixed seed from the test corpus fragments.

  corpus.py OUT_PATH [SIZE_BYTES]
"""
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import tokenizer_oracle  # noqa: E402

PROSE = ("the of and to in is that it was for on are as with his they at be this from have or "
         "by one had not but what all were when we there can an your which their said if do will "
         "each about how up out them then she many some so these would other into has more her "
         "two like him see time could no make than first been its who now people my made over did "
         "down only way find use may water long little very after words called just where most "
         "know").split()


def main():
    out = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 10 * 1000 * 1000
    rng = random.Random(1234)
    strings = tokenizer_oracle.make_strings()
    lines, total = [], 0
    while total < size:
        kind = rng.random()
        if kind < 0.5:  # English-like prose
            words = [rng.choice(PROSE) for _ in range(rng.randint(8, 40))]
            words[0] = words[0].capitalize()
            line = " ".join(words) + rng.choice([".", "?", "!", ","])
        else:  # the varied test strings: code, scripts, emoji, whitespace, digits
            line = " ".join(rng.choice(strings) for _ in range(rng.randint(1, 4)))
        line = line.replace("\n", " ")
        lines.append(line)
        total += len(line.encode("utf-8")) + 1
    with open(out, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
