"""Classification: themes (chips, data, talent, open_source) and China-AI relevance.

`anchors/` holds the labelled training data (seed paragraphs, negatives, term lists);
`terms` turns term lists into features and evidence, `examples` reads training and input
data, `model` is the scikit-learn pipeline, `train` fits and evaluates it, and `tagging`
applies the current model to stored articles.
"""

from pathlib import Path

# The labelled training data (data files, not code); here so that finding it imports nothing.
ANCHORS = Path(__file__).resolve().parent / "anchors"
