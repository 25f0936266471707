"""Dataset adapters: Pick-a-Pic v2, ImageRewardDB, HPDv2 -> `PreferencePair`;
HumanEdit, UltraEdit, SuperEdit-40K -> `EditExample`."""

from reward_models.data.edit import read_edits
from reward_models.data.images import UndecodableImage, decode_image
from reward_models.data.preference import read_hpdv2, read_imagerewarddb, read_pickapic, read_preferences
from reward_models.data.schema import ColumnError, EditExample, PreferencePair, SkipLog

__all__ = [
    "ColumnError", "EditExample", "PreferencePair", "SkipLog", "UndecodableImage", "decode_image",
    "read_edits", "read_hpdv2", "read_imagerewarddb", "read_pickapic", "read_preferences",
]
