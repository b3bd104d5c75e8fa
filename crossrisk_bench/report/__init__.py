"""Reports of a run: the conflict matrix, results JSON, Markdown model card, HTML page, heatmap."""
