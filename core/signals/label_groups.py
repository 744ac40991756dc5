"""Everyday words for groups of ImageNet classes ("dog" for its 118 breeds), with the group's summed probability.

ImageNet is fine-grained where ads are not: a real ad's service dog comes back as "Ibizan hound 0.27,
Saluki 0.26, Italian greyhound 0.07, …", wrong breeds each, while the model is 0.91 sure it is a dog.
People type "dog", "bird", "fruit". A group's probability is the sum over its classes (the softmax
is one distribution, so the sum is the model's own probability of the group); the group's word is a
label like the others, kept when that sum clears the same floor as a single class and outweighs every
class outside the group.

The groups follow WordNet's hypernyms of the ILSVRC-2012 classes, which lie in contiguous index
ranges for animals and foods; vehicles and guns are spread over the index, so they are listed by name.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

LABELS_PATH = Path(__file__).resolve().parents[1] / "resources" / "imagenet_labels.txt"
SYNONYMS_PATH = LABELS_PATH.with_name("imagenet_synonyms.txt")


@lru_cache(maxsize=1)
def imagenet_labels() -> list[str]:
    """The 1,000 ILSVRC-2012 class names in the classifier's output order."""
    lines = LABELS_PATH.read_text(encoding="utf-8").splitlines()
    return [ln for ln in lines if ln and not ln.startswith("#")]


@lru_cache(maxsize=1)
def _other_names() -> dict[str, str]:
    """Class name → its other everyday names ("jersey" → "T-shirt, tee shirt"), where it has any."""
    lines = [ln for ln in SYNONYMS_PATH.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    return {name: other for name, other in zip(imagenet_labels(), lines) if other}


def label_prompt(label: str) -> str:
    """The text a label's vector embeds. ImageNet names its classes by one WordNet lemma, often not the
    word people type: "jersey" is ImageNet's T-shirt, "cab" its taxi, "recreational vehicle" its RV, so a
    query for a "white t-shirt" missed an ad labelled jersey 0.91 (47th in the picture-label channel). The other
    lemmas ride along in the embedded text; labels shown to people keep the one name."""
    other = _other_names().get(label)
    return f"a photo of a {label}" + (f" ({other})" if other else "")


# word → inclusive index ranges in the ILSVRC-2012 class order (core/resources/imagenet_labels.txt)
GROUP_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "fish": ((0, 6), (389, 397)),
    "bird": ((7, 24), (80, 100), (127, 146)),
    "turtle": ((33, 37),),
    "lizard": ((38, 48),),
    "snake": ((52, 68),),
    "spider": ((72, 77),),
    "whale": ((147, 148),),
    "dog": ((151, 268),),
    "wolf": ((269, 272),),
    "fox": ((277, 280),),
    "cat": ((281, 285),),
    "big cat": ((286, 293),),
    "bear": ((294, 297),),
    "insect": ((300, 320),),
    "butterfly": ((321, 326),),
    "rabbit": ((330, 332),),
    "cattle": ((345, 347),),
    "sheep": ((348, 349),),
    "monkey": ((365, 384),),
    "elephant": ((385, 386),),
    "food": ((923, 935), (959, 965)),
    "vegetable": ((936, 947),),
    "fruit": ((948, 957),),
}
# word → class names (vehicles and firearms are scattered through the index)
GROUP_NAMES: dict[str, tuple[str, ...]] = {
    "car": ("ambulance", "beach wagon", "cab", "convertible", "jeep", "limousine", "minivan", "Model T",
            "police van", "racer", "sports car", "pickup", "moving van", "minibus"),
    "truck": ("garbage truck", "tow truck", "trailer truck", "fire engine", "moving van", "pickup"),
    "gun": ("assault rifle", "rifle", "revolver"),
}


def group_words() -> list[str]:
    return list(GROUP_RANGES) + list(GROUP_NAMES)


@lru_cache(maxsize=1)
def _members() -> tuple[tuple[str, np.ndarray], ...]:
    index = {name: i for i, name in enumerate(imagenet_labels())}
    out = [(word, np.concatenate([np.arange(a, b + 1) for a, b in ranges])) for word, ranges in GROUP_RANGES.items()]
    out += [(word, np.asarray([index[n] for n in names])) for word, names in GROUP_NAMES.items()]
    return tuple(out)


def group_labels(probs: np.ndarray, floor: float) -> list[tuple[str, float]]:
    """[(group word, summed probability)] for every group whose classes together reach `floor` and
    outweigh every single class outside the group, most probable first. Needs the full 1,000-class
    distribution in ImageNet order.

    The second condition keeps a large group's scattered mass from outvoting the model's real guess:
    a talk-show host in a suit ("groom" 0.39) also collects 0.15 over the 118 dog breeds."""
    if len(probs) != len(imagenet_labels()):
        return []
    probs = np.asarray(probs, dtype=np.float64)
    found = []
    for word, idx in _members():
        p = float(probs[idx].sum())
        outside = probs.copy()
        outside[idx] = 0.0
        if p >= floor and p > float(outside.max()):
            found.append((word, p))
    return sorted(found, key=lambda wp: -wp[1])


ANIMAL_CLASSES = 398          # ILSVRC classes 0–397 are animals
ANIMAL_WITH_FACES = 0.75      # with a face in the picture, an animal label must be this sure


@lru_cache(maxsize=1)
def _animal_names() -> frozenset[str]:
    groups = {w for w, ranges in GROUP_RANGES.items() if all(b < ANIMAL_CLASSES for _, b in ranges)}
    return frozenset(imagenet_labels()[:ANIMAL_CLASSES]) | groups


def drop_unsure_animals(found: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The labels of a picture with a face in it, less the animals below ANIMAL_WITH_FACES.

    ImageNet has no person class, and its animal classes (the dog breeds above all) take people's hair
    and faces: on the real ads, a Black man at a protest came back as "Afghan hound 0.33, standard poodle",
    so "dog". A veteran with his service dog (a face, and "dog" 0.91) keeps his dog."""
    animals = _animal_names()
    return [(lbl, p) for lbl, p in found if lbl not in animals or p >= ANIMAL_WITH_FACES]
