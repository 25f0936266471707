"""Dataset adapters: Pick-a-Pic v2, ImageRewardDB, HPDv2 -> `PreferencePair`;
HumanEdit, UltraEdit, SuperEdit-40K -> `EditExample`. Each reads a local copy or the hub
repository (`DataRepo`), fetching files only as the reader reaches them."""

from reward_models.data.edit import read_edits
from reward_models.data.files import DataRepo, HubRepo, LocalRepo, SplitNotFound, open_repo
from reward_models.data.images import UndecodableImage, decode_image_cell
from reward_models.data.preference import (
    read_hpdv2,
    read_imagerewarddb,
    read_imagerewarddb_ratings,
    read_pickapic,
    read_preferences,
)
from reward_models.data.schema import ColumnError, EditExample, PreferencePair, SkipLog

__all__ = [
    "ColumnError", "DataRepo", "EditExample", "HubRepo", "LocalRepo", "PreferencePair", "SkipLog", "SplitNotFound",
    "UndecodableImage", "decode_image_cell", "open_repo", "read_edits", "read_hpdv2", "read_imagerewarddb",
    "read_imagerewarddb_ratings", "read_pickapic", "read_preferences",
]
