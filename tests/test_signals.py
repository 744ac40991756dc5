"""The signal plug-in point: a signal declared in one place (here, this test module) reaches the schema,
the analysis workers, the ad frame, the document and the detail view with nothing else edited."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core import views
from core.ingest import ingest
from core.signals import base
from core.store import Library


class Warmth(base.Signal):
    """A toy signal: how much redder than blue the creative is, and a word for it."""

    name = "warmth"
    columns = (base.Column("warmth", "DOUBLE"), base.Column("warmth_word", "VARCHAR"))
    document_label = "warmth"

    def compute(self, frame):
        rgb = np.asarray(frame.image.convert("RGB"), dtype=np.float32)
        w = float((rgb[..., 0] - rgb[..., 2]).mean() / 255)
        return {"warmth": w, "warmth_word": "warm tones" if w > 0.2 else "cool tones" if w < -0.2 else "neutral tones"}

    def words(self, row):
        return [row["warmth_word"]] if row.get("warmth_word") else []


@pytest.fixture()
def warmth():
    sig = base.register(Warmth())
    yield sig
    base.unregister(sig.name)


def _images(folder, colours):
    folder.mkdir(parents=True)
    for name, colour in colours.items():
        img = Image.new("RGB", (200, 160), colour)
        ImageDraw.Draw(img).rectangle([40, 40, 160, 120], outline="white", width=3)
        img.save(folder / f"{name}.png")
    return folder


def test_a_signal_declared_in_one_place_reaches_frame_document_and_detail(tmp_path, warmth):
    src = _images(tmp_path / "src", {"red": (220, 40, 30), "blue": (20, 60, 230), "grey": (128, 128, 128)})
    lib = Library(tmp_path / "lib")
    summary = ingest(lib, src, workers=1)
    assert summary.ads_added == 3 and not summary.errors
    frame = lib.ads_frame().set_index("file")
    assert {"warmth", "warmth_word"} <= set(frame.columns)
    assert frame.loc["red.png", "warmth"] > 0.2 > -0.2 > frame.loc["blue.png", "warmth"]
    assert dict(frame["warmth_word"]) == {"red.png": "warm tones", "blue.png": "cool tones", "grey.png": "neutral tones"}
    doc = frame.loc["red.png", "document"]
    assert "warmth: warm tones" in doc and doc.index("colours:") < doc.index("warmth:")   # after the built-in parts
    detail = views.ad_detail(lib, int(frame.loc["blue.png", "ad_id"]), k=0)
    assert detail["signals"]["warmth"] == ["cool tones"]
    assert detail["signals"]["colours"]["words"][0] == "blue"          # built-ins come through the same door
    # a second ad of a creative already in the library gets its document from the stored columns
    again = _images(tmp_path / "src2", {"red_copy": (220, 40, 30)})
    ingest(lib, again, workers=1)
    assert "warmth: warm tones" in lib.scalar("SELECT document FROM ads WHERE file = 'red_copy.png'")
    lib.close()


def test_a_failing_signal_leaves_its_columns_empty_and_keeps_the_ad(tmp_path):
    class Broken(base.Signal):
        name = "broken"
        columns = (base.Column("broken_value", "DOUBLE"),)

        def compute(self, frame):
            raise RuntimeError("boom")

    values, errors = base.compute_all([Broken(), *base.registered()[2:3]], base.FrameReads(Image.new("RGB", (64, 64), "red")))
    assert values["broken_value"] is None and errors == {"broken": "RuntimeError: boom"}
    assert values["color_words"].startswith("red")


@pytest.mark.parametrize("bad", [
    dict(name="", columns=(base.Column("x", "DOUBLE"),)),                    # no name
    dict(name="nocols", columns=()),                                          # no column
    dict(name="thief", columns=(base.Column("ocr_text", "VARCHAR"),)),       # a column another signal owns
])
def test_register_refuses_bad_signals(bad):
    sig = type("Bad", (base.Signal,), bad)()
    with pytest.raises(ValueError):
        base.register(sig)
    assert "thief" not in {s.name for s in base.registered()}


def test_column_types_are_checked():
    with pytest.raises(ValueError, match="not one of"):
        base.Column("x", "FLOAT[]")


def test_builtin_signals_in_document_order():
    assert [s.name for s in base.registered()][:4] == ["ocr", "labels", "colours", "layout"]
    assert [s.document_label for s in base.registered()][:4] == [None, "shows", "colours", "layout"]


# -- the layout signal's "split screen" (it names nodes "split-screen comparisons") ------------------------------

def _photo_like(size, seed):
    """Smooth random texture: a stand-in for a photo half."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.BICUBIC)


def _centred_text_card(size=(600, 600), colour="navy"):
    img = Image.new("RGB", size, colour)
    d = ImageDraw.Draw(img)
    for i, y in enumerate(range(size[1] // 3, 2 * size[1] // 3, 40)):   # centred lines of heavy "text"
        d.rectangle([size[0] // 4, y, 3 * size[0] // 4, y + 24], fill="white")
        d.rectangle([size[0] // 2 - 3, y - 6, size[0] // 2 + 3, y + 30], fill="yellow")   # a glyph stem mid-picture
    return img


def _two_halves(size=(600, 600)):
    img = Image.new("RGB", size)
    img.paste(_photo_like((size[0] // 2, size[1]), 1).point(lambda v: v // 3), (0, 0))          # dull "before"
    img.paste(_photo_like((size[0] - size[0] // 2, size[1]), 2), (size[0] // 2, 0))            # bright "after"
    return img


@pytest.mark.parametrize("make,size,split", [
    (_two_halves, (600, 600), True),
    (_two_halves, (800, 450), True),
    (_centred_text_card, (600, 600), False),     # centred text makes strong mid edges, but over few rows
    (_centred_text_card, (1080, 1350), False),
    (_two_halves, (468, 60), False),             # a banner's panels are its format, not a comparison
])
def test_split_screen_needs_a_full_height_seam(make, size, split):
    from core.signals.layout import layout_words

    words = layout_words(make(size), text_area_share=0.1, ocr_chars=20)
    assert ("split screen" in words) is split, words


def test_split_screen_on_the_sample_is_its_before_after_family(sample_library):
    """Every planted before/after ad says "split screen"; no centred text offer (the earlier test called 21 of 29
    split, and so named their node a split-screen comparison) and no 2×2 grid does."""
    rows = sample_library.execute(
        "SELECT a.file, c.layout_words FROM ads a JOIN creatives c ON a.creative_id = c.id WHERE c.kind = 'image'").fetchall()
    said = {f: "split screen" in (w or "") for f, w in rows}
    before_after = [s for f, s in said.items() if "/before_after_split/" in f]
    text_offers = [s for f, s in said.items() if "/text_only_offer/" in f]
    grids = [s for f, s in said.items() if "/carousel_grid_collage/" in f]
    assert before_after and all(before_after)
    assert text_offers and not any(text_offers)
    assert grids and not any(grids)


def test_a_grid_is_not_a_split_screen():
    from core.signals.layout import layout_words

    img = Image.new("RGB", (600, 600))
    for i, (x, y) in enumerate([(0, 0), (300, 0), (0, 300), (300, 300)]):
        img.paste(_photo_like((300, 300), 10 + i).point(lambda v, k=i: min(255, v // 2 + 60 * k)), (x, y))
    assert "split screen" not in layout_words(img, text_area_share=0.0, ocr_chars=0)


def _spread(classes: dict[int, float]) -> np.ndarray:
    probs = np.full(1000, 0.0)
    for i, p in classes.items():
        probs[i] = p
    probs[970:1000] += (1.0 - probs.sum()) / 30   # the rest thin over scenery and fungi, in no group
    return probs


@pytest.mark.parametrize("classes,expected", [
    ({151 + i: 0.05 for i in range(12)}, ["dog"]),          # twelve unsure breeds, a sure dog (0.60)
    ({22: 0.75, 21: 0.05}, ["bird"]),                       # bald eagle + kite
    ({413: 0.09, 764: 0.06}, ["gun"]),                      # assault rifle + rifle: neither alone a word
    ({627: 0.10, 734: 0.08, 867: 0.06, 864: 0.07}, ["car", "truck"]),  # limousine + police van; two trucks
    ({151: 0.06, 281: 0.06, 7: 0.06}, []),                  # a dog, a cat and a bird, none of them sure
    ({982: 0.39, 151: 0.08, 160: 0.07}, []),                # groom, and dog breeds below it: a man in a suit
    ({999: 0.9}, []),                                       # toilet tissue: in no group
])
def test_group_words_sum_their_classes(classes, expected):
    from core.documents import LABEL_FLOOR
    from core.signals.label_groups import group_labels

    found = group_labels(_spread(classes), LABEL_FLOOR)
    assert [w for w, _ in found] == expected
    for w, p in found:
        assert p >= LABEL_FLOOR


def test_group_words_need_the_whole_distribution():
    from core.signals.label_groups import group_labels

    assert group_labels(np.full(5, 0.2), 0.12) == []


def test_a_cat_photo_says_cat():
    """Real model, real pixels: scikit-image's cat photo comes back as three cat breeds, none of them the
    word a person types; the group word carries their summed probability into the ad's "shows" words."""
    import skimage.data

    from core.documents import label_words
    from core.signals.visual import EfficientNetLiteEncoder

    _, labels = EfficientNetLiteEncoder().encode(Image.fromarray(skimage.data.chelsea()))
    breeds = [p for lbl, p in labels if lbl in {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"}]
    cat = dict(labels).get("cat")
    assert cat is not None and abs(cat - sum(breeds)) < 0.02 and cat > max(breeds)
    assert "cat" in label_words(labels)


def test_every_class_has_its_line_of_other_names():
    """The other-names file lines up with the classes (a blank line for a class with none): one line off and
    every label would embed its neighbour's names."""
    from core.signals import label_groups as lg

    lines = [ln for ln in lg.SYNONYMS_PATH.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    assert len(lines) == len(lg.imagenet_labels()) == 1000
    assert lg.label_prompt("jersey") == "a photo of a jersey (T-shirt, tee shirt)"
    assert lg.label_prompt("dog") == "a photo of a dog"                     # a group word: no other names
    assert "Carcharodon" not in lg.label_prompt("great white shark")        # Latin names left out


@pytest.fixture(scope="module")
def class_label_vectors():
    """Real MiniLM over every class's label text, once for the module: (names, vectors)."""
    from core.search.query_encoder import query_encoder
    from core.signals.label_groups import imagenet_labels, label_prompt

    names = imagenet_labels()
    return names, query_encoder().encode([label_prompt(n) for n in names])


@pytest.mark.parametrize("query,label", [("white t-shirt with a print", "jersey"),    # bare name: "printer" first
                                         ("family in an RV", "recreational vehicle"),  # bare: "trailer truck"
                                         ("kid hugging a teddy bear", "teddy")])
def test_a_label_vector_knows_the_words_people_type(query, label, class_label_vectors):
    """Real MiniLM: the query the other names were added for is closer to the label's vector than to the bare
    name's, and closer to it than to every other class's."""
    from core.search.query_encoder import query_encoder

    names, vectors = class_label_vectors
    q = query_encoder().encode([query])[0]
    bare = query_encoder().encode([f"a photo of a {label}"])[0]
    assert float(q @ vectors[names.index(label)]) > float(q @ bare)
    assert names[int(np.argmax(vectors @ q))] == label


@pytest.mark.parametrize("found,kept", [
    ([("Afghan hound", 0.33), ("unicycle", 0.08), ("dog", 0.56)], ["unicycle"]),   # a man's hair as a dog
    ([("Ibizan hound", 0.27), ("Saluki", 0.26), ("dog", 0.91)], ["dog"]),          # a veteran and his dog
    ([("limousine", 0.3), ("car", 0.6), ("suit", 0.2)], ["limousine", "car", "suit"]),  # not animals
])
def test_unsure_animals_go_where_there_is_a_face(found, kept):
    from core.signals.label_groups import drop_unsure_animals

    assert [lbl for lbl, _ in drop_unsure_animals(found)] == kept


def test_labels_read_the_face_detector_once_per_frame():
    """Real detector, real pixels: on scikit-image's astronaut (a face) an unsure dog guess is dropped, a sure one and
    the other labels stay; the people signal reuses the same detection; no face, nothing dropped."""
    import skimage.data

    from core.signals.base import FrameReads
    from core.signals.labels import ObjectLabels
    from core.signals.people import People, available

    if not available():
        pytest.skip("mtcnn weights not installed")
    guesses = [("Afghan hound", 0.3), ("dog", 0.5), ("space shuttle", 0.2)]
    frame = FrameReads(Image.fromarray(skimage.data.astronaut()), labels=guesses)
    assert [lbl for lbl, _ in ObjectLabels().compute(frame)["labels"]] == ["space shuttle"]
    detected = frame.shared["people"]
    assert detected[1] and People().compute(frame)["faces"] == [list(f) for f in detected[1]]
    sure = FrameReads(Image.fromarray(skimage.data.astronaut()), labels=[("dog", 0.9)])
    assert [lbl for lbl, _ in ObjectLabels().compute(sure)["labels"]] == ["dog"]
    no_face = FrameReads(Image.fromarray(skimage.data.coffee()), labels=guesses)
    assert [lbl for lbl, _ in ObjectLabels().compute(no_face)["labels"]] == ["Afghan hound", "dog", "space shuttle"]
    # the labels read the frame's one detection, whoever ran it: a face already found stands for the coffee cup too
    told = FrameReads(Image.fromarray(skimage.data.coffee()), labels=guesses)
    told.shared["people"] = (["person", "face"], [(10.0, 10.0, 60.0, 60.0, 0.99)])
    assert [lbl for lbl, _ in ObjectLabels().compute(told)["labels"]] == ["space shuttle"]


def _astronaut_face_on(size, face_size, at):
    import skimage.data

    face = Image.fromarray(skimage.data.astronaut()).crop((150, 30, 330, 230)).resize(face_size)
    img = Image.new("RGB", size, (250, 250, 250))
    img.paste(face, at)
    return img


@pytest.mark.parametrize("size,face_size,at,words", [
    ((180, 200), (180, 200), (0, 0), ["person", "face", "face close-up", "portrait"]),   # the face fills the frame
    ((468, 60), (54, 60), (400, 0), ["person", "face"]),   # as tall as a banner strip: a thumbnail, not a close-up
    ((1920, 1080), (500, 560), (700, 260), ["person", "face", "portrait"]),
])
def test_face_size_is_read_against_the_long_side(size, face_size, at, words):
    """Real detector, real pixels: 15 real 468×60 banners with a small headshot were called "face close-up"."""
    from core.signals.people import GENDER_WORDS, available, people_signal

    if not available():
        pytest.skip("mtcnn weights not installed")
    found, faces = people_signal(_astronaut_face_on(size, face_size, at))
    assert len(faces) == 1 and [w for w in found if w not in GENDER_WORDS and w != "smiling"] == words


def _side_by_side(*images, height=320):
    parts = [im.convert("RGB").resize((round(im.width * height / im.height), height)) for im in images]
    out = Image.new("RGB", (sum(p.width for p in parts) + 40 * len(parts), height + 40), (250, 250, 250))
    x = 20
    for part in parts:
        out.paste(part, (x, 20))
        x += part.width + 40
    return out


def _astronaut():
    import skimage.data

    return Image.fromarray(skimage.data.astronaut())


def _cameraman():
    import skimage.data

    return Image.fromarray(skimage.data.camera()).convert("RGB")


@pytest.mark.parametrize("picture,word", [
    (_astronaut, "woman"), (_cameraman, "man"),
    (lambda: _side_by_side(_astronaut(), _cameraman()), "man and woman"),
    (lambda: _side_by_side(_astronaut(), _astronaut()), "two women"),
])
def test_faces_read_as_men_and_women(picture, word):
    """Real detector and dlib's gender network on real pixels: scikit-image's astronaut (Eileen Collins) and its
    cameraman; each face carries P(male) as its sixth value and the words say who is there."""
    from core.signals.face_gender import available as gender_available
    from core.signals.people import GENDER_WORDS, available, people_signal

    if not (available() and gender_available()):
        pytest.skip("mtcnn or the gender weights are not installed")
    words, faces = people_signal(picture())
    assert all(len(f) == 7 and 0.0 <= f[5] <= 1.0 for f in faces)
    assert [w for w in words if w in GENDER_WORDS] == [word], (words, faces)


@pytest.mark.parametrize("picture,smiling", [(_astronaut, True), (_cameraman, False)])
def test_faces_read_as_smiling_or_not(picture, smiling):
    """Real detector and the FER-2013 mini-Xception on real pixels: Eileen Collins smiles for her portrait, the
    cameraman does not; each face carries P(happy) as its seventh value."""
    from core.signals.face_expression import available as expression_available
    from core.signals.people import SMILING_AT, available, people_signal

    if not (available() and expression_available()):
        pytest.skip("mtcnn or the expression weights are not installed")
    words, faces = people_signal(picture())
    assert len(faces) == 1 and 0.0 <= faces[0][6] <= 1.0
    assert ("smiling" in words) == smiling and (faces[0][6] >= SMILING_AT) == smiling, (words, faces)


@pytest.mark.parametrize("happy,words", [
    ([0.95], ["smiling"]), ([0.5], []), ([None], []), ([0.1, 0.85], ["smiling"]), ([0.79, 0.3], []),
])
def test_smiling_words_follow_the_confident_faces(happy, words):
    """One face at or over the cut is enough; a face read before the expression network (six values) says nothing."""
    from core.signals.people import smiling_words

    faces = [(0.1, 0.1, 0.3, 0.3, 0.99, 0.5, h) for h in happy]
    assert smiling_words(faces) == words
    assert smiling_words([f[:6] for f in faces]) == []


@pytest.mark.parametrize("male,words", [
    ([0.97], ["man"]), ([0.03], ["woman"]), ([0.5], []), ([None], []), ([], []),
    ([0.9, 0.95], ["two men"]), ([0.1, 0.0], ["two women"]), ([0.9, 0.1], ["man and woman"]),
    ([0.9, 0.5], ["man"]), ([0.9, 0.95, 0.99], ["men"]), ([0.9, 0.05, 0.5], ["men and women"]),
])
def test_gender_words_follow_the_confident_faces(male, words):
    """A face between the cut-offs (or read before the gender network, five values) says nothing."""
    from core.signals.people import gender_words

    faces = [(0.1, 0.1, 0.3, 0.3, 0.99) + (() if p is None else (p,)) for p in male]
    assert gender_words(faces) == words


# -- the layout signal's photo / illustration split (composition's "cartoon" follows it) -------------------------

def _washed_out_crowd(size=(480, 270)):
    """A concert crowd against a blown-out stage light: white above, black silhouettes below, photo between."""
    img = Image.new("RGB", size, "white")
    img.paste(_photo_like((size[0], 7 * size[1] // 20), 5), (0, 2 * size[1] // 5))
    ImageDraw.Draw(img).rectangle([0, 3 * size[1] // 4, size[0], size[1]], fill=(12, 8, 20))
    return img


def _flat_cartoon(size=(400, 400)):
    img = Image.new("RGB", size, (110, 180, 230))                       # sky
    d = ImageDraw.Draw(img)
    d.rectangle([0, 260, 400, 400], fill=(90, 170, 60), outline="black", width=4)   # grass
    d.ellipse([280, 40, 360, 120], fill=(250, 200, 40), outline="black", width=4)   # sun
    d.rectangle([80, 160, 220, 280], fill=(200, 60, 50), outline="black", width=4)  # house
    return img


def _white_banner_with_icon(size=(728, 90)):
    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).ellipse([6, 6, 78, 84], fill=(230, 40, 120))
    return img


@pytest.mark.parametrize("make,word", [
    (_washed_out_crowd, "photo"),          # white and black are flat in photos too (11 real concert crowds)
    (_flat_cartoon, "illustration"),       # flat mid-tone colours
    (_white_banner_with_icon, "illustration"),   # almost wholly flat: not a photo whatever its colours
    (lambda: _photo_like((400, 400), 6), "photo"),
])
def test_an_illustration_is_flat_in_colours_not_in_white_and_black(make, word):
    from core.signals.layout import graphic_share, surface_word

    img = make()
    assert surface_word(img, text_area_share=0.0) == word
    if make is _washed_out_crowd:
        assert graphic_share(img) > 0.5   # what made it an illustration before


# -- composition: captures of feed posts and blacked-out blocks ---------------------------------------------------

@pytest.mark.parametrize("ocr,words", [
    ("Instagram liberty_rising Sponsored Learn More liberty_rising Hello friends!", ["social media screenshot", "instagram post"]),
    ("Don'tShootshared event. Sponsored· Join or spread the word", ["social media screenshot", "facebook post"]),
    ("Interested 187people interested·106people going 81Reactions", ["social media screenshot", "facebook post"]),
    ("Suggested Page South United LikePage", ["social media screenshot", "facebook post"]),
    ("lexususa Sponsored 31449 likes", ["social media screenshot"]),            # a feed, platform not named
    ("SMELL GREAT EVERY MONTH Shop Now", []),                                     # an ad's own button
    ("City marathon 2016 sponsored by Acme Learn More", []),                      # a poster's sponsor
    ("", []),
])
def test_feed_captures_are_read_from_the_platforms_interface_words(ocr, words):
    from core.signals.composition import feed_capture_words

    assert feed_capture_words(ocr) == words


def _panels(size, cols, rows):
    img = Image.new("RGB", size)
    w, h = size[0] // cols, size[1] // rows
    for i in range(cols * rows):   # dark and light pictures in turn: every seam is a clear jump
        dark = (i % cols + i // cols) % 2 == 0
        img.paste(_photo_like((w, h), 10 + i).point(lambda v, d=dark: v // 3 if d else 170 + v // 3),
                  ((i % cols) * w, (i // cols) * h))
    return img


@pytest.mark.parametrize("make,ocr,collage", [
    (lambda: _panels((400, 400), 2, 2), "", True),                         # four pictures in a grid
    (lambda: _panels((728, 90), 3, 1), "", False),                         # a wide banner's own sections
    (lambda: _with_block([0, 100, 399, 300]), "", False),                  # a black box's edges
    (lambda: _panels((400, 400), 2, 2), "Instagram acme Sponsored Learn More", False),   # a feed's interface
])
def test_a_collage_is_panels_of_pictures_not_a_banners_sections_or_a_captures_frame(make, ocr, collage):
    from core.signals.composition import composition_words, seams

    img = make()
    v, h = seams(img)
    assert (v >= 1 and h >= 1) or v >= 2 or h >= 2   # every one has the straight seams that made it a collage
    assert ("collage" in composition_words(img, ["photo"], 0.0, ocr)) is collage


def _with_block(box, background="white", size=(400, 400)):
    img = _photo_like(size, 3) if background == "photo" else Image.new("RGB", size, background)
    ImageDraw.Draw(img).rectangle(box, fill=(5, 5, 5))
    return img


def _dark_text_card(size=(400, 400)):
    img = Image.new("RGB", size, (8, 8, 8))
    d = ImageDraw.Draw(img)
    for y in range(40, 380, 60):
        d.rectangle([30, y, 370, y + 22], fill="white")
    return img


@pytest.mark.parametrize("make,boxed", [
    (lambda: _with_block([0, 100, 399, 300]), True),                  # a capture's blacked-out picture: half of it
    (lambda: _with_block([50, 60, 330, 260], "photo"), True),         # a dark panel over a photo
    (lambda: _with_block([0, 0, 120, 120]), False),                   # under a fifth of the picture
    (lambda: _photo_like((400, 400), 4).point(lambda v: v // 12), False),   # a night photo: dark all over
    (_dark_text_card, False),                                         # a black card: black is its background
])
def test_a_black_box_is_one_solid_block_on_a_lighter_picture(make, boxed):
    from core.signals.composition import black_box

    assert black_box(make()) is boxed
