import json

import numpy as np
import pytest
from PIL import Image

from kerasdl.data.box_files import NOTED_BOX_PROBLEMS, read_box_folder
from kerasdl.errors import UserError


def _image(path, size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 120, 150)).save(path)
    return path


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _yolo(root, labels, names="cat\ndog\n", folder=""):
    """`root/images/<folder>/<stem>.png` (40x30) and `root/labels/<folder>/<stem>.txt` from `{stem: text}`."""
    for stem, text in labels.items():
        _image(root / "images" / folder / f"{stem}.png")
        _write(root / "labels" / folder / f"{stem}.txt", text)
    if names is not None:
        _write(root / "classes.txt", names)
    return root


def _voc_xml(objects, size=(40, 30)):
    parts = "".join(
        f"<object><name>{name}</name><difficult>{int(difficult)}</difficult><bndbox><xmin>{box[0]}</xmin>"
        f"<ymin>{box[1]}</ymin><xmax>{box[2]}</xmax><ymax>{box[3]}</ymax></bndbox></object>"
        for name, box, difficult in objects
    )
    return f"<annotation><size><width>{size[0]}</width><height>{size[1]}</height></size>{parts}</annotation>"


def _voc(root, annotations):
    """`root/JPEGImages/<stem>.jpg` (40x30), `root/Annotations/<stem>.xml` from `{stem: [(name, box, difficult)]}`."""
    for stem, objects in annotations.items():
        _image(root / "JPEGImages" / f"{stem}.jpg")
        _write(root / "Annotations" / f"{stem}.xml", _voc_xml(objects))
    return root


def _coco(root, annotations, categories, file_names=("a.png", "b.png"), name="annotations.json", folder="images"):
    images = [
        {"id": 10 + index, "file_name": file_name, "width": 40, "height": 30}
        for index, file_name in enumerate(file_names)
    ]
    for file_name in file_names:
        _image(root / folder / file_name)
    _write(root / name, json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return root


def _error(root):
    with pytest.raises(UserError) as caught:
        read_box_folder(root)
    return str(caught.value)


def test_yolo_fractions_become_pixels_and_empty_label_is_a_negative(tmp_path):
    _yolo(tmp_path, {"b": "1 0.5 0.5 0.5 0.5\n\n0 0.25 0.5 0.1 1\n", "a": ""})
    records = read_box_folder(tmp_path)
    assert records.format == "yolo"
    assert records.image_paths == [str(tmp_path / "images" / "a.png"), str(tmp_path / "images" / "b.png")]
    np.testing.assert_array_equal(records.sizes, [[40, 30], [40, 30]])
    assert records.boxes[0].shape == (0, 4) and records.boxes[0].dtype == np.float32
    assert records.classes[0].shape == (0,) and records.classes[0].dtype == np.int32
    np.testing.assert_allclose(records.boxes[1], [[10, 7.5, 30, 22.5], [8, 0, 12, 30]])
    np.testing.assert_array_equal(records.classes[1], [1, 0])
    assert records.class_names == ["cat", "dog"]
    assert records.splits == {} and records.notes == []


def test_yolo_split_folders_and_names_mapping(tmp_path):
    _yolo(tmp_path, {"a": "0 0.5 0.5 0.5 0.5"}, names=None, folder="train")
    _yolo(tmp_path, {"b": "1 0.5 0.5 0.5 0.5", "a": ""}, names=None, folder="val")
    _write(tmp_path / "data.yaml", "names:\n  0: cat\n  1: dog\n")
    records = read_box_folder(tmp_path)
    assert records.class_names == ["cat", "dog"]
    assert [path.split("/images/")[1] for path in records.image_paths] == ["train/a.png", "val/a.png", "val/b.png"]
    assert {split: list(indices) for split, indices in records.splits.items()} == {"train": [0], "validation": [1, 2]}
    np.testing.assert_array_equal(records.classes[2], [1])


@pytest.mark.parametrize("path", [None, ".", "/datasets/on/another/machine"])
def test_yolo_data_yaml_split_keys_and_names_list(tmp_path, path):
    _yolo(tmp_path, {"a": "0 0.5 0.5 0.5 0.5"}, names=None, folder="fit")
    _yolo(tmp_path, {"b": ""}, names=None, folder="check")
    _yolo(tmp_path, {"c": ""}, names=None, folder="final")
    yaml_path = "" if path is None else f"path: {path}\n"
    _write(
        tmp_path / "data.yaml",
        f"{yaml_path}train: images/fit\nval: images/check\ntest: images/final\nnames: [cat, dog]\n",
    )
    records = read_box_folder(tmp_path)
    assert records.class_names == ["cat", "dog"]
    assert {split: list(indices) for split, indices in records.splits.items()} == {
        "validation": [0],
        "test": [1],
        "train": [2],
    }


def test_yolo_roboflow_layout_read_through_data_yaml(tmp_path):
    # Roboflow's export: split folders at the top, each with images/ and labels/, and `../` paths.
    for split, stem in (("train", "a"), ("valid", "b")):
        _image(tmp_path / split / "images" / f"{stem}.jpg")
        _write(tmp_path / split / "labels" / f"{stem}.txt", "0 0.5 0.5 0.5 0.5\n")
    _write(tmp_path / "data.yaml", "train: ../train/images\nval: ../valid/images\nnc: 1\nnames: ['cell']\n")
    records = read_box_folder(tmp_path)
    assert records.format == "yolo" and records.class_names == ["cell"]
    assert {split: list(indices) for split, indices in records.splits.items()} == {"train": [0], "validation": [1]}
    np.testing.assert_allclose(records.boxes[1], [[10, 7.5, 30, 22.5]])


def test_yolo_data_yaml_problems(tmp_path):
    _yolo(tmp_path, {"a": ""}, names=None)
    _write(tmp_path / "data.yaml", "names: {0: cat, 2: dog}\n")
    assert _error(tmp_path).startswith("data.yaml names: has keys 0, 2")
    _write(tmp_path / "data.yaml", "names: [cat]\nval: images/missing\n")
    assert _error(tmp_path).startswith("data.yaml val: 'images/missing' is not a folder")


def test_yolo_without_names_counts_classes(tmp_path):
    records = read_box_folder(_yolo(tmp_path, {"a": "2 0.5 0.5 0.5 0.5"}, names=None))
    assert records.class_names == ["class_0", "class_1", "class_2"]
    assert "class_0 to class_2" in records.notes[0]


def test_yolo_image_without_label_file(tmp_path):
    _yolo(tmp_path, {"a": ""})
    _image(tmp_path / "images" / "b.png")
    message = _error(tmp_path)
    assert "images/b.png" in message and "labels/b.txt" in message and "empty label file" in message


@pytest.mark.parametrize(
    "line", ["0 0.5 0.5 0.2", "cat 0.5 0.5 0.2 0.2", "1.5 0.5 0.5 0.2 0.2", "2 0.5 0.5 0.2 0.2", "-1 0.5 0.5 0.2 0.2"]
)
def test_yolo_malformed_line(tmp_path, line):
    message = _error(_yolo(tmp_path, {"a": f"0 0.5 0.5 0.2 0.2\n{line}\n"}))
    assert message.startswith("labels/a.txt line 2: ") and repr(line) in message


def test_voc_pixels_start_at_one_and_image_sets_give_splits(tmp_path):
    _voc(
        tmp_path,
        {
            "a": [("dog", (1, 1, 40, 30), False), ("cat", (11, 6, 20, 15), True)],
            "b": [],
            "c": [("cat", (2, 2, 10, 10), False)],
        },
    )
    _write(tmp_path / "ImageSets" / "Main" / "train.txt", "a\n")
    _write(tmp_path / "ImageSets" / "Main" / "val.txt", "b\n")
    _write(tmp_path / "ImageSets" / "Main" / "trainval.txt", "a\nb\n")
    records = read_box_folder(tmp_path)
    assert records.format == "voc" and records.class_names == ["cat", "dog"]
    np.testing.assert_allclose(records.boxes[0], [[0, 0, 40, 30], [10, 5, 20, 15]])
    np.testing.assert_array_equal(records.classes[0], [1, 0])
    assert records.boxes[1].shape == (0, 4)
    assert {split: list(indices) for split, indices in records.splits.items()} == {"train": [0], "validation": [1]}
    assert records.notes == []


def test_voc_classes_txt_orders_classes_and_rejects_unknown_names(tmp_path):
    _voc(tmp_path, {"a": [("dog", (1, 1, 9, 9), False), ("cat", (1, 1, 9, 9), False)]})
    _write(tmp_path / "classes.txt", "dog\ncat\nbird\n")
    records = read_box_folder(tmp_path)
    assert records.class_names == ["dog", "cat", "bird"]
    np.testing.assert_array_equal(records.classes[0], [0, 1])
    _write(tmp_path / "classes.txt", "dog\n")
    assert _error(tmp_path).startswith("Annotations/a.xml object 2 (cat): class 'cat' is not in classes.txt")


def test_voc_errors_name_the_file(tmp_path):
    _voc(tmp_path, {"a": []})
    _write(tmp_path / "ImageSets" / "Main" / "val.txt", "a\nzebra\n")
    message = _error(tmp_path)
    assert "ImageSets/Main/val.txt" in message and "'zebra'" in message
    (tmp_path / "ImageSets" / "Main" / "val.txt").unlink()
    _image(tmp_path / "JPEGImages" / "b.jpg")
    message = _error(tmp_path)
    assert "JPEGImages/b.jpg" in message and "Annotations/b.xml" in message


def test_voc_malformed_object_and_images_in_two_splits(tmp_path):
    _voc(tmp_path, {"a": [("dog", (1, 1, 9, 9), False)], "b": []})
    _write(tmp_path / "ImageSets" / "Main" / "train.txt", "a\nb\n")
    _write(tmp_path / "ImageSets" / "Main" / "val.txt", "b\n")
    records = read_box_folder(tmp_path)
    assert {split: list(indices) for split, indices in records.splits.items()} == {"train": [0, 1], "validation": [1]}
    assert (
        records.notes[0].startswith("1 image(s) are in more than one split") and "JPEGImages/b.jpg" in records.notes[0]
    )
    _write(tmp_path / "Annotations" / "a.xml", _voc_xml([("dog", (1, 1, "?", 9), False)]))
    assert _error(tmp_path).startswith("Annotations/a.xml object 1 (dog) needs a <name> and a <bndbox>")


def test_voc_size_that_differs_from_the_image_is_noted(tmp_path):
    _voc(tmp_path, {"a": [("dog", (1, 1, 9, 9), False)]})
    _write(tmp_path / "Annotations" / "a.xml", _voc_xml([("dog", (1, 1, 9, 9), False)], size=(50, 30)))
    records = read_box_folder(tmp_path)
    np.testing.assert_array_equal(records.sizes, [[40, 30]])
    assert records.notes == [
        "1 annotation(s) give another size than the image's, which is used: "
        "Annotations/a.xml says 50x30 but JPEGImages/a.jpg is 40x30"
    ]


@pytest.mark.parametrize(
    "name, folder", [("annotations.json", "images"), ("_annotations.coco.json", "."), ("export.json", "images")]
)
def test_coco_boxes_and_gapped_category_ids(tmp_path, name, folder):
    annotations = [
        {"id": 1, "image_id": 10, "category_id": 7, "bbox": [4, 5, 10, 20]},
        {"id": 2, "image_id": 10, "category_id": 3, "bbox": [0, 0, 40, 30]},
        {"id": 3, "image_id": 10, "category_id": 3, "bbox": [1, 1, 5, 5], "iscrowd": 1},
    ]
    categories = [{"id": 7, "name": "dog"}, {"id": 3, "name": "cat"}]
    _coco(tmp_path, annotations, categories, name=name, folder=folder)
    _image(tmp_path / folder / "stray.png")
    records = read_box_folder(tmp_path)
    assert records.format == "coco" and records.class_names == ["cat", "dog"]
    np.testing.assert_allclose(records.boxes[0], [[4, 5, 14, 25], [0, 0, 40, 30]])
    np.testing.assert_array_equal(records.classes[0], [1, 0])
    assert records.boxes[1].shape == (0, 4) and records.splits == {}
    assert "left out 1 crowd annotation(s)" in records.notes[0]
    stray = "stray.png" if folder == "." else "images/stray.png"
    assert records.notes[1] == f"left out 1 image(s) that {name} does not list: {stray}"


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"image_id": 99}, "annotations.json annotation 1 has image_id 99"),
        ({"category_id": 4}, "annotations.json annotation 1 has category_id 4"),
    ],
)
def test_coco_unknown_ids_name_the_annotation(tmp_path, change, expected):
    annotation = {"id": 1, "image_id": 10, "category_id": 3, "bbox": [1, 1, 5, 5]} | change
    _coco(tmp_path, [annotation], [{"id": 3, "name": "cat"}])
    assert _error(tmp_path).startswith(expected)


def test_coco_bbox_that_is_not_four_numbers(tmp_path):
    _coco(tmp_path, [{"id": 5, "image_id": 11, "category_id": 1, "bbox": [1, 2, 3]}], [{"id": 1, "name": "cat"}])
    assert _error(tmp_path).startswith("annotations.json annotation 5 has bbox [1, 2, 3]")


def test_coco_image_missing_on_disk(tmp_path):
    _coco(tmp_path, [], [{"id": 1, "name": "cat"}])
    (tmp_path / "images" / "b.png").unlink()
    message = _error(tmp_path)
    assert "'b.png'" in message and "images/b.png does not exist" in message


def test_box_problems_are_noted_and_boxes_clipped(tmp_path):
    lines = [
        "0 0.5 0.5 0 0.2",  # zero width
        "0 0.5 0.5 0.2 -0.1",  # negative height
        "0 1.5 0.5 0.2 0.2",  # right of the image
        "0 0.5 0.5 0.01 0.5",  # 0.4 pixels wide
        "0 0.0 0.5 0.2 0.2",  # half outside: clipped to 0..4
        "1 0.5 0.5 1.0 1.0",  # the whole image, exactly
    ]
    records = read_box_folder(_yolo(tmp_path, {"a": "\n".join(lines)}))
    np.testing.assert_allclose(records.boxes[0], [[0, 12, 4, 18], [0, 0, 40, 30]])
    np.testing.assert_array_equal(records.classes[0], [0, 1])
    assert records.notes == [
        "labels/a.txt line 1: box 0.5 0.5 0 0.2 has zero width; skipped",
        "labels/a.txt line 2: box 0.5 0.5 0.2 -0.1 has negative height; skipped",
        "labels/a.txt line 3: box 1.5 0.5 0.2 0.2 lies outside the 40x30 image; skipped",
        "labels/a.txt line 4: box 0.5 0.5 0.01 0.5 is under 1 pixel wide; skipped",
        "clipped 1 box(es) that reach past their image's edges: labels/a.txt line 5",
    ]


def test_box_problem_notes_are_capped(tmp_path):
    read = read_box_folder(_yolo(tmp_path, {"a": "0 0.5 0.5 0 0.2\n" * (NOTED_BOX_PROBLEMS + 5)}))
    assert len(read.notes) == NOTED_BOX_PROBLEMS + 1 and read.notes[-1] == "and 5 more box problems"


def test_hidden_files_are_ignored_and_unreadable_images_skipped(tmp_path):
    _yolo(tmp_path, {"a": "0 0.5 0.5 0.5 0.5", "b": ""})
    _image(tmp_path / "images" / "._a.png")
    (tmp_path / "images" / "b.png").write_bytes(b"not an image")
    records = read_box_folder(tmp_path)
    assert records.image_paths == [str(tmp_path / "images" / "a.png")]
    assert records.notes == ["skipped 1 image(s) PIL cannot open: images/b.png"]


def test_folder_problems(tmp_path):
    assert "does not exist" in _error(tmp_path / "nowhere")
    message = _error(tmp_path)
    assert "YOLO needs images/ and labels/" in message and "JPEGImages/" in message and "annotations.json" in message
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    assert _error(tmp_path).startswith("No images in")
    _yolo(tmp_path, {"a": ""})
    _image(tmp_path / "images" / "a.jpg")
    message = _error(tmp_path)
    assert "images/a.jpg" in message and "images/a.png" in message and "share a name" in message
