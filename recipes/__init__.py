"""Recipes that tie the packages together into reproducible artifacts (the shipped small judges).

A recipe sits above `reward_models`, `curation` and `synthetic`: it writes world data in the
real datasets' layouts, trains through the project's entry points, and measures through the
real scoring job. Nothing below imports it.
"""
