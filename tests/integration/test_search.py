"""Search by words and by example: the plumbing checked exactly against transformers' SiglipModel
on the same images and text (random weights cannot test what a match means)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from app import cli
from tests.conftest import scene_pixels

TEXTS = ["kids on the beach at sunset", "a dog in the snow"]


@pytest.fixture(scope="module")
def library(tmp_path_factory, full_siglip, head_file):
    """Five photos scored (exact mode) with the whole tiny SigLIP, in a library of their own, and
    SiglipModel's own logits for them: {text: logits (5,)} and the image features."""
    import torch
    from transformers import AutoTokenizer, SiglipModel

    root = tmp_path_factory.mktemp("search")
    photos = root / "photos"
    (photos / "sub").mkdir(parents=True)
    pixels = np.concatenate([scene_pixels(photos, 3, seed=10), scene_pixels(photos / "sub", 2, seed=20)])
    paths = [str(photos / f"s{10 + i}.jpg") for i in range(3)] + [str(photos / "sub" / f"s{20 + i}.jpg")
                                                                   for i in range(2)]
    db = root / "library.db"
    model_args = ["--db", str(db), "--encoder", str(full_siglip), "--head", str(head_file), "--device", "cpu",
                  "--precision", "fp32", "--runtime", "torch"]
    assert cli.main(["scan", str(photos), *model_args]) == 0
    model = SiglipModel.from_pretrained(str(full_siglip)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(full_siglip))
    with torch.no_grad():
        tokens = tokenizer(TEXTS, padding="max_length", max_length=64, return_tensors="pt")
        out = model(input_ids=tokens["input_ids"], pixel_values=torch.from_numpy(pixels))
        image = model.get_image_features(pixel_values=torch.from_numpy(pixels))
        image = getattr(image, "pooler_output", image)
    logits = {text: out.logits_per_text[i].numpy() for i, text in enumerate(TEXTS)}
    image = torch.nn.functional.normalize(image, dim=-1).numpy()
    return dict(db=db, photos=photos, paths=paths, logits=logits, image=image,
                args=["--db", str(db), "--encoder", str(full_siglip), "--precision", "fp32"])


def _json_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize("text", TEXTS)
def test_search_ranks_and_matches_as_siglip_does(library, capsys, text):
    assert cli.main(["search", text, "--json", *library["args"]]) == 0
    hits = _json_lines(capsys)
    expected = library["logits"][text]
    order = np.argsort(-expected, kind="stable")
    assert [h["path"] for h in hits] == [library["paths"][i] for i in order]  # every photo, best first
    assert [h["match"] for h in hits] == pytest.approx([float(expected[i]) for i in order], abs=0.1)
    assert all(set(h) == {"path", "match", "score"} and isinstance(h["score"], float) for h in hits)
    assert -30 < min(h["match"] for h in hits) and max(h["match"] for h in hits) < 0  # SigLIP's range


def test_the_cpus_int8_text_tower_stays_near_siglips_matches(library, capsys):
    from app.core.scorer import int8_available

    if not int8_available():
        pytest.skip("this PyTorch has no int8 kernels")
    text = TEXTS[1]
    assert cli.main(["search", text, "--json", "--db", str(library["db"]), "--encoder", str(library["args"][3]),
                     "--device", "cpu", "--precision", "int8"]) == 0
    by_path = {h["path"]: h["match"] for h in _json_lines(capsys)}
    expected = library["logits"][text]
    assert [by_path[p] for p in library["paths"]] == pytest.approx(expected.tolist(), abs=1.0)


def test_search_in_a_folder_with_a_limit(library, capsys):
    text = TEXTS[0]
    expected = library["logits"][text]
    sub = [i for i, p in enumerate(library["paths"]) if "/sub/" in p]
    best_in_sub = max(sub, key=lambda i: expected[i])
    assert cli.main(["search", text, str(library["photos"] / "sub"), "--json", "--limit", "1",
                     *library["args"]]) == 0
    hits = _json_lines(capsys)
    assert [h["path"] for h in hits] == [library["paths"][best_in_sub]]
    assert cli.main(["search", text, "--limit", "2", *library["args"]]) == 0  # the table form
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == 2 and "2 photos" in out.err


def test_similar_is_the_nearest_embeddings_with_the_photo_first(library, capsys):
    image = library["image"]
    for i in (0, 3):
        assert cli.main(["similar", library["paths"][i], "--json", *library["args"]]) == 0
        hits = _json_lines(capsys)
        cos = image @ image[i]
        rest = [j for j in np.argsort(-cos, kind="stable") if j != i]
        assert [h["path"] for h in hits] == [library["paths"][j] for j in [i, *rest]]
        assert [h["match"] for h in hits] == pytest.approx([float(cos[j]) for j in [i, *rest]], abs=0.01)
    assert cli.main(["similar", library["paths"][0], "--limit", "2", "--json", *library["args"]]) == 0
    assert len(_json_lines(capsys)) == 2


def test_a_vision_only_model_says_it_has_no_text_tower(library, tiny_encoder, capsys):
    assert cli.main(["search", "a dog", "--db", str(library["db"]), "--encoder", str(tiny_encoder)]) == 2
    assert "has no text tower" in capsys.readouterr().err


def test_similar_of_an_unknown_photo_and_an_empty_search_are_plain_errors(library, tmp_path, capsys):
    assert cli.main(["similar", str(tmp_path / "nothing.jpg"), *library["args"]]) == 2
    assert "not in the library" in capsys.readouterr().err
    assert cli.main(["search", "   ", *library["args"]]) == 2
    assert "nothing to search for" in capsys.readouterr().err


def test_a_model_without_its_tokenizer_says_how_to_get_it(library, full_siglip, tmp_path, capsys):
    folder = tmp_path / "no-tokenizer"
    folder.mkdir()
    for f in full_siglip.iterdir():
        if f.name != "spiece.model":
            (folder / f.name).symlink_to(f)
    assert cli.main(["search", "a dog", "--db", str(library["db"]), "--encoder", str(folder)]) == 2
    assert "no tokenizer (spiece.model)" in capsys.readouterr().err
