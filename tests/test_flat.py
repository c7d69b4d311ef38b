"""innr-siren's flat options, mapped to INNR parts: inconsistent options are config errors; only
distillation on data reads data."""

from __future__ import annotations

import pytest

from innr_bench.compress.innr.compressor import InnrSiren
from innr_bench.errors import ConfigError


@pytest.mark.parametrize(("params", "match"), [
    ({"bits": 4}, "bits: 4 needs integer codes; set precision: int8"),
    ({"qat_epochs": 10, "precision": "fp16"}, "qat_epochs: 10 needs integer codes"),
    ({"recipe": "seed", "normalize": "row"}, "rows layout"),
    ({"recipe": "distill-noise", "distill_label_loss": 0.5}, "needs training labels"),
])
def test_inconsistent_options_are_config_errors(params: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        InnrSiren(**params)


def test_only_distillation_on_data_reads_data() -> None:
    assert InnrSiren().data_free
    assert InnrSiren(precision="int8", qat_epochs=5).data_free
    assert InnrSiren(distill_steps=5, distill_inputs="noise").data_free
    assert InnrSiren(distill_steps=5, distill_inputs="impressions").data_free
    assert InnrSiren(recipe="distill-impressions").data_free
    assert not InnrSiren(distill_steps=5, distill_inputs="data").data_free
    assert not InnrSiren(recipe="distill-quick").data_free

