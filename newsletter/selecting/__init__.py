"""Selecting an issue (pure): window, ranking, same story, placement, overrides, explain."""
