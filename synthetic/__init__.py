"""A synthetic world with known truth: small images of known content, captions that describe
them, planted faults tagged with UniPic failure modes, written in real datasets' layouts.

    from synthetic import Scene, render, caption, preference_pairs, write_candidates
    from synthetic.truth import analyse, matches   # read a picture back into objects

`synthetic.sets` builds the sets in memory, `synthetic.writers` writes them in the datasets' layouts.
"""

from .faults import EDIT_FAULTS, FAULT_MODE, T2I_FAULTS, FaultResult, edit_fault, t2i_fault
from .prompts import Edit, caption, make_edit, parse_caption, random_edit
from .scene import COLOURS, POSITIONS, SHAPES, Scene, SceneObject, random_scene, render
from .sets import (
    EditTriplet,
    RatedGroup,
    RatedImage,
    WorldPair,
    candidates,
    edit_triplets,
    imagereward_groups,
    preference_pairs,
    understanding_rows,
    vqa_rows,
)
from .truth import DetectedObject, analyse, matches
from .writers import (
    WRITERS,
    write_candidates,
    write_hpdv2,
    write_humanedit,
    write_imagerewarddb,
    write_pickapic,
    write_ultraedit,
    write_understanding,
    write_vqa,
)

__all__ = [
    "COLOURS", "EDIT_FAULTS", "FAULT_MODE", "POSITIONS", "SHAPES", "T2I_FAULTS", "WRITERS",
    "DetectedObject", "Edit", "EditTriplet", "FaultResult", "RatedGroup", "RatedImage",
    "Scene", "SceneObject", "WorldPair", "analyse", "candidates", "caption", "edit_fault", "edit_triplets",
    "imagereward_groups", "make_edit", "matches", "parse_caption", "preference_pairs", "random_edit",
    "random_scene", "render", "t2i_fault", "understanding_rows", "vqa_rows", "write_candidates",
    "write_hpdv2", "write_humanedit", "write_imagerewarddb", "write_pickapic", "write_ultraedit",
    "write_understanding", "write_vqa",
]
