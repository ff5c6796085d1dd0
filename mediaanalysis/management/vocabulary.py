"""The words seed_bulk writes transcripts, summaries and extracted text with, and bench searches.

Ranked by frequency: a word is drawn with probability about 1/rank (Zipf's law, as in real
speech and writing), so the first words are in almost every result and the last ones in a few
hundred of a million. The common words are those of a support line and a meeting room; the
long tail (product and place names, surnames) is made of syllables, the same for every seed.
"""

import random


def _words(text: str) -> list[str]:
    return text.split()


COMMON = _words("""
the to and i you a it that of is we for this in on so can yes be my have your was with
not but okay just are do what if about me all at will our there no they right one know
like get order thank would now time or please up an out call account here let's need see
think well back check today week payment refund customer service number day go more
look sure email because address help they're then some just could two also new which
really going when been did how them date last next card said any want these first
problem system price credit delivery team support ticket issue update manager office
product invoice contract meeting agenda report project plan budget quarter revenue
sales client store shipping return package tracking warranty replacement phone line
message minutes schedule discount charge bank transfer balance statement policy claim
form document page signature total amount due tax receipt copy file upload download
password login access security code error screen app website version release feature
""")
PHRASES = [
    "thank you for calling",
    "refund request",
    "credit card",
    "next week",
    "delivery address",
    "cancel my subscription",
    "quarterly revenue",
    "escalate to a supervisor",
]
SYLLABLES = _words(
    "ka lo mi ren tu sa vel do ri na pe zo bar lin gor te qua fi mon ex dra sel um ost"
)
SIZE = 20_000


def _tail(count: int) -> list[str]:
    rng = random.Random(20_000)
    seen = set(COMMON)
    words = []
    while len(words) < count:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


WORDS = list(dict.fromkeys(COMMON)) + _tail(SIZE - len(dict.fromkeys(COMMON)))
