import pytest

from fer3d.data.ckplus import CKPLUS_CLASSES, CKPlusReader, parse_emotion_file
from fer3d.data.errors import BadInputError, DatasetLayoutError, SkipLog


def test_reads_labels_subjects_and_frames(fake_ckplus):
    dataset = CKPlusReader().read(fake_ckplus, SkipLog())
    assert dataset.class_names == CKPLUS_CLASSES
    assert len(dataset.records) == 6 * 3
    assert dataset.subjects == [f"S{i:03d}" for i in range(1, 7)]
    for record in dataset.records:
        assert record.sequence_id.startswith(record.subject + "/")
        names = [p.name for p in record.frames]
        assert names == sorted(names) and len(names) >= 4
        emotion = next((fake_ckplus / "Emotion" / record.sequence_id).glob("*_emotion.txt"))
        assert parse_emotion_file(emotion) == record.label


def test_unlabelled_sequences_are_counted_not_used(fake_ckplus):
    for f in (fake_ckplus / "Emotion" / "S001").rglob("*_emotion.txt"):
        f.unlink()
    dataset = CKPlusReader().read(fake_ckplus, SkipLog())
    assert "S001" not in dataset.subjects
    assert any("3 sequence(s) have no emotion file" in n for n in dataset.notes)


@pytest.mark.parametrize(
    "content,match",
    [
        ("", "empty"),
        ("abc", "not hold a number"),
        ("9.0", "invalid emotion code"),
        ("0.0000000e+00", "invalid emotion code"),
        ("2.5", "invalid"),
    ],
)
def test_bad_emotion_file_names_the_file(fake_ckplus, content, match):
    emotion = next((fake_ckplus / "Emotion" / "S002").rglob("*_emotion.txt"))
    emotion.write_text(content)
    with pytest.raises(BadInputError, match=match) as err:
        CKPlusReader().read(fake_ckplus, SkipLog())
    assert str(emotion) in str(err.value)
    log = SkipLog(skip_bad=True)
    dataset = CKPlusReader().read(fake_ckplus, log)
    assert len(dataset.records) == 17 and [s.path for s in log.skipped] == [str(emotion)]


def test_not_a_ckplus_tree(tmp_path):
    with pytest.raises(DatasetLayoutError, match="cohn-kanade-images"):
        CKPlusReader().read(tmp_path, SkipLog())
