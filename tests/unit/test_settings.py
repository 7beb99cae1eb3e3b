import pytest

from app.config import settings
from app.errors import SettingsError


def test_defaults_when_nothing_is_set(tmp_path):
    s = settings.load(tmp_path / "none.toml", environ={})
    assert s.encoder == settings.DEFAULT_ENCODER
    assert s.precision == "auto" and s.sources["precision"] == "default"
    assert not s.explicit("precision")


def test_precedence_flag_env_file_default(tmp_path):
    path = tmp_path / "settings.toml"
    settings.save(path, {"batch_size": 8, "cull_threshold": 3.5, "precision": "bf16"})
    env = {"AESTHETE_BATCH_SIZE": "16", "AESTHETE_PRECISION": "fp32"}
    s = settings.load(path, overrides={"precision": "int8"}, environ=env)
    assert (s.precision, s.sources["precision"]) == ("int8", "flag")
    assert (s.batch_size, s.sources["batch_size"]) == (16, "env")
    assert (s.cull_threshold, s.sources["cull_threshold"]) == (3.5, "file")
    assert (s.good_threshold, s.sources["good_threshold"]) == (5.5, "default")
    assert s.explicit("precision") and not s.explicit("good_threshold")


def test_save_keeps_other_values_and_drops_defaults(tmp_path):
    path = tmp_path / "settings.toml"
    settings.save(path, {"batch_size": 8, "exclude": "*.tmp, Private/*"})
    settings.save(path, {"cull_threshold": 3})
    s = settings.load(path, environ={})
    assert s.batch_size == 8 and s.cull_threshold == 3.0 and s.exclude == ["*.tmp", "Private/*"]
    settings.save(path, {"batch_size": 0})  # back to the default: removed from the file
    assert "batch_size" not in path.read_text()


@pytest.mark.parametrize("name,value", [("precision", "int4"), ("batch_size", "many"), ("cull_threshold", "11"),
                                        ("write_xmp", "ture"), ("write_xmp", "maybe")])
def test_bad_values_are_clear_errors(tmp_path, name, value):
    with pytest.raises(SettingsError, match=name):
        settings.load(tmp_path / "x.toml", environ={f"AESTHETE_{name.upper()}": value})


def test_switches_read_the_usual_words(tmp_path):
    for raw, value in (("yes", True), ("On", True), ("1", True), ("no", False), ("off", False), ("0", False)):
        assert settings.load(tmp_path / "x.toml", environ={"AESTHETE_WRITE_XMP": raw}).write_xmp is value


def test_relative_paths_are_saved_absolute_and_hub_ids_kept(tmp_path, monkeypatch):
    (tmp_path / "enc").mkdir()
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "settings.toml"
    settings.save(path, {"encoder": "enc", "rejects_folder": "enc"})
    s = settings.load(path, environ={})
    assert s.encoder == str(tmp_path / "enc") and s.rejects_folder == str(tmp_path / "enc")
    settings.save(path, {"encoder": "google/siglip-so400m-patch14-384"})  # no such folder here: a hub id
    assert settings.load(path, environ={}).encoder == "google/siglip-so400m-patch14-384"


def test_broken_settings_file(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("precision = [unclosed")
    with pytest.raises(SettingsError, match="cannot read settings file"):
        settings.load(path, environ={})


def test_faces_model_is_a_model_setting_every_command_takes(tmp_path):
    from app.cli.parser import build_parser

    s = settings.REGISTRY["faces_model"]
    assert s.default == "" and s.effect == settings.MODEL  # a new face model reloads the scorer
    parser = build_parser()
    assert "--faces-model FILE" in parser.format_help()
    args = parser.parse_args(["scan", "--faces-model", str(tmp_path / "face_landmarker.task")])
    resolved = settings.load(tmp_path / "settings.toml", settings.flags_given(args))
    assert resolved.faces_model == str(tmp_path / "face_landmarker.task") and resolved.sources["faces_model"] == "flag"


def test_without_a_face_model_the_holder_says_face_checks_are_off(tmp_path):
    from app.library import ModelHolder

    holder = ModelHolder(settings.load(tmp_path / "settings.toml", {"faces_model": str(tmp_path / "none.task")}))
    assert holder.faces() is None
    assert holder.faces_off.startswith("Face checks are off:") and "none.task" in holder.faces_off
    cache_only = ModelHolder(settings.load(tmp_path / "settings.toml"))  # nothing downloaded: never fetched here
    assert cache_only.faces() is None and "has not been downloaded" in cache_only.faces_off
