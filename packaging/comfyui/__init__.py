"""Aesthete's ComfyUI custom node: scores images with the Aesthetic Predictor V2.5 or the LAION
aesthetic predictor V2, through Aesthete's own engine (see README.md beside this file)."""
from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
