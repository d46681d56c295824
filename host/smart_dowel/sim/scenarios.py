"""The simulated dowel's scenario names (product.md's public list); no heavy imports, so the
CLI can offer them as choices without loading the body model."""

SCENARIOS = (
    "good",
    "lumbar-flexion",
    "thoracic-rounding",
    "head-forward",
    "squat",
    "shallow",
    "rushed",
    "mixed",
)
