"""Where Aesthete keeps its files: platform config, data, cache and state folders."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "aesthete"


def _dir(env: str, default: str) -> Path:
    # AESTHETE_HOME moves every folder at once (tests, portable installs).
    home = os.environ.get("AESTHETE_HOME")
    if home:
        return Path(home) / env.lower()
    return Path(default)


def config_dir() -> Path:
    return _dir("config", platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    return _dir("data", platformdirs.user_data_dir(APP_NAME))


def cache_dir() -> Path:
    return _dir("cache", platformdirs.user_cache_dir(APP_NAME))


def state_dir() -> Path:
    return _dir("state", platformdirs.user_state_dir(APP_NAME))


def default_db_path() -> Path:
    return data_dir() / "library.sqlite3"


def default_settings_path() -> Path:
    return config_dir() / "settings.toml"


def log_path() -> Path:
    return state_dir() / "aesthete.log"
