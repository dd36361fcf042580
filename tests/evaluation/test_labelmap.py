"""Label mapping between CK+ and Oulu-CASIA, both ways."""

from __future__ import annotations

import numpy as np
import pytest

from fer3d.evaluation.labelmap import UNMAPPED, LabelMap

CK = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")
OULU = ("Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise")


def test_ckplus_to_oulu() -> None:
    m = LabelMap.by_name(CK, OULU)
    assert m.unmapped_source == ("contempt",) and m.unmapped_target == ()
    assert ("happy", "Happiness") in m.pairs and len(m.pairs) == 6
    np.testing.assert_array_equal(m.to_target(np.arange(7)), [0, UNMAPPED, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(m.to_source(np.arange(6)), [0, 2, 3, 4, 5, 6])
    assert m.target_keep(np.arange(6)).all()


def test_oulu_to_ckplus_drops_contempt_clips() -> None:
    m = LabelMap.by_name(OULU, CK)
    assert m.unmapped_target == ("contempt",) and m.unmapped_source == ()
    np.testing.assert_array_equal(m.to_target(np.arange(6)), [0, 2, 3, 4, 5, 6])
    labels = np.array([1, 4, 1, 0])  # two contempt clips
    np.testing.assert_array_equal(m.target_keep(labels), [False, True, False, True])
    assert "contempt" in m.describe()


def test_round_trip_on_mapped_classes() -> None:
    m = LabelMap.by_name(CK, OULU)
    mapped = np.array([0, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(m.to_source(m.to_target(mapped)), mapped)


def test_extra_mapping_and_errors() -> None:
    m = LabelMap.by_name(("angry", "calm"), ("anger", "neutral"), extra={"calm": "neutral"})
    assert m.pairs == [("angry", "anger"), ("calm", "neutral")]
    with pytest.raises(ValueError, match="no class"):
        LabelMap.by_name(("a", "b"), ("c", "d"))
    with pytest.raises(ValueError, match="does not exist"):
        LabelMap.by_name(CK, OULU, extra={"nope": "Anger"})
