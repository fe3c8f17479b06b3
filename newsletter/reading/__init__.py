"""Reading the corpus: walk, front matter, article schema, cache, parallel read."""
