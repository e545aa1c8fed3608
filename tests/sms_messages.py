"""Short spam/ham messages for the text tests: separable, seeded, a third spam."""

import numpy as np

SPAM = ["win a free prize now", "claim your cash reward today", "urgent call now to win", "free entry txt WIN"]
HAM = ["see you at lunch", "are we still on for tonight", "ok I will call you later", "thanks for the lift"]


def messages(count=120, fillers=("", "please", "x", "soon")):
    """`[(label, text), ...]`: every third message spam, each with a seeded filler word."""
    rng = np.random.default_rng(0)
    rows = []
    for index in range(count):
        label = "spam" if index % 3 == 0 else "ham"
        text = rng.choice(SPAM if label == "spam" else HAM)
        rows.append((label, f"{text} {rng.choice(list(fillers))}".strip()))
    return rows
