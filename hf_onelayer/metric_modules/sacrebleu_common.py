"""What the two sacrebleu modules (``translation_bleu``, ``translation_chrf``) share: their inputs, and the
references as sacrebleu wants them. ``evaluate`` copies this file beside them (a relative import); it holds no
metric of its own."""

import datasets
import evaluate


def metric_info(description: str, citation: str, inputs_description: str) -> evaluate.MetricInfo:
    """Predictions (str) and one list of reference translations per prediction."""
    return evaluate.MetricInfo(
        description=description, citation=citation, inputs_description=inputs_description,
        features=datasets.Features({"predictions": datasets.Value("string"),
                                    "references": datasets.Sequence(datasets.Value("string"))}))


def reference_streams(references: list[list[str]]) -> list[list[str]]:
    """One list per reference position (sacrebleu's layout), from one list per prediction (all as long)."""
    counts = {len(refs) for refs in references}
    if len(counts) != 1:
        raise ValueError("every prediction needs the same number of references")
    return [[refs[i] for refs in references] for i in range(counts.pop())]


def lowercase_default(config_name: str, lowercase: bool | None) -> bool:
    """The config name ``"lowercase"`` makes lowercasing the default; an explicit ``lowercase`` wins."""
    return config_name == "lowercase" if lowercase is None else lowercase
