"""The three detection formats that `box_files.read_box_folder` reads.

`read_yolo`, `read_voc` and `read_coco` each take the folder and return
`(images, class_names, notes)`: one `ImageLabels` per image with its boxes
as the annotation states them, the class names, and lines the user should
hear. A problem that stops the read is a one-line `UserError` naming the
file; `box_files` then reads the image sizes and clips or skips boxes.
"""

import dataclasses
import json
import math
import os
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import yaml

from kerasdl.data.dataset import first_few
from kerasdl.errors import UserError, first_line
from kerasdl.photos import IMAGE_SUFFIXES  # one list for training and predict

# Ultralytics names the validation split `val`, Roboflow's exports `valid`.
SPLIT_NAMES = {"train": "train", "val": "validation", "valid": "validation", "test": "test"}
COCO_FILES = ("annotations.json", "_annotations.coco.json")
COCO_KEYS = ("images", "annotations", "categories")


@dataclasses.dataclass
class ImageLabels:
    """One image and its boxes as its annotation states them.

    `boxes` holds `(corners, class, where, as written)` for each box:
    corners x1, y1, x2, y2 (fractions of the image's sides for YOLO, else
    pixels), the class index (VOC: first the name), where the box is
    written (file and line or object) and the box in the file's own terms,
    both for notes. `stated_size` is the (width, height) the annotation
    gives, if any, and `annotation` the file that gives it.
    """

    path: Path
    boxes: list
    splits: tuple = ()
    stated_size: tuple = None
    annotation: str = ""


def shown(path, root):
    """`path` as the user knows it: relative to the folder they passed."""
    return os.path.relpath(path, root)


def image_files(folder, root):
    """The images in `folder` (not its subfolders), sorted."""
    # Hidden files are left out: macOS writes `._0001.jpg` beside `0001.jpg`.
    files = sorted(
        path
        for path in folder.iterdir()
        if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".") and path.is_file()
    )
    stems = {}
    for path in files:
        if path.stem in stems:
            raise UserError(
                f"{shown(stems[path.stem], root)} and {shown(path, root)} share a name; "
                "every image in a folder needs its own stem to match its annotation"
            )
        stems[path.stem] = path
    return files


def read_names(path, root):
    """Class names from a text file, one a line, or None if there is no such file."""
    if not path.is_file():
        return None
    names = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    if not names:
        raise UserError(f"{shown(path, root)} names no classes; write one class name a line")
    return names


def _number(value):
    """`value` as a finite float, or None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def read_yolo(root):
    """Ultralytics YOLO: `images/` and `labels/`, one `class cx cy w h` line a box."""
    config_path = root / "data.yaml"
    config = _yolo_config(config_path, root)
    names, source = _yolo_names(config, config_path, root), "data.yaml"
    for path in (root / "classes.txt", root / "labels" / "classes.txt"):
        if names is None:
            names, source = read_names(path, root), shown(path, root)
    images = {}
    for split, folder in _yolo_folders(root, config, config_path):
        for path in image_files(folder, root):
            if path not in images:
                label = _label_path(path, root)
                if not label.is_file():
                    raise UserError(
                        f"Image {shown(path, root)} has no label file {shown(label, root)}; every image needs "
                        "one, and an empty label file marks an image with no objects"
                    )
                images[path] = ImageLabels(path, _yolo_boxes(label, root, names, source))
            if split:
                images[path].splits += (split,)
    notes = []
    if names is None:
        count = max((box[1] for image in images.values() for box in image.boxes), default=0) + 1
        names = [f"class_{index}" for index in range(count)]
        notes.append(f"no names in data.yaml and no classes.txt: the classes are named class_0 to class_{count - 1}")
    return list(images.values()), names, notes


def _yolo_config(path, root):
    if not path.is_file():
        return {}
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as error:
        raise UserError(f"{shown(path, root)} is not valid YAML: {first_line(error)}") from error
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise UserError(f"{shown(path, root)} must hold keys: names:, and optionally path:, train:, val: and test:")
    return config


def _yolo_names(config, path, root):
    """data.yaml's `names:`, a list or a `{0: name, ...}` mapping, as a list (None if absent)."""
    names = config.get("names")
    if names is None:
        return None
    if isinstance(names, dict):
        try:
            by_index = {int(key): name for key, name in names.items()}
        except (TypeError, ValueError):
            by_index = {}
        if sorted(by_index) != list(range(len(names))):
            raise UserError(
                f"{shown(path, root)} names: has keys {first_few(list(names))}; number the classes 0, 1, 2, ... "
                "without gaps"
            )
        names = [by_index[index] for index in range(len(names))]
    if not isinstance(names, list) or not names:
        raise UserError(f"{shown(path, root)} names: must be a list of class names or a mapping {{0: name, ...}}")
    return [str(name) for name in names]


def _yolo_folders(root, config, config_path):
    """`(split or None, image folder)` pairs: data.yaml's train/val/test,
    else `images/train`, `images/val`, `images/test`, else `images/`."""
    keys = [key for key in ("train", "val", "test") if config.get(key)]
    if not keys:
        folders = [(SPLIT_NAMES[name], root / "images" / name) for name in SPLIT_NAMES]
        folders = [pair for pair in folders if pair[1].is_dir()] or [(None, root / "images")]
        if not folders[0][1].is_dir():
            raise UserError(
                f"{shown(config_path, root)} has no train:, val: or test: and {str(root)!r} has no images/; "
                "YOLO needs images/ and labels/, or data.yaml naming the image folders"
            )
        return folders
    base = config_path.parent / str(config.get("path") or "")
    if not base.is_dir():
        # An absolute `path:` from the machine that wrote the file: the
        # folders are found beside data.yaml instead.
        base = config_path.parent
    pairs = []
    for key in keys:
        for value in config[key] if isinstance(config[key], list) else [config[key]]:
            folder = base / str(value)
            if not folder.is_dir() and str(value).startswith("../"):
                # Roboflow writes `../train/images` for `train/images`; Ultralytics reads it so too.
                folder = base / str(value)[3:]
            if not folder.is_dir():
                raise UserError(
                    f"{shown(config_path, root)} {key}: {value!r} is not a folder ({folder}); point it at a "
                    "folder of images, relative to data.yaml or to its path:"
                )
            pairs.append((SPLIT_NAMES[key], folder))
    return pairs


def _label_path(image, root):
    """Ultralytics' rule: the last `images` folder on the path becomes `labels`, the suffix `.txt`."""
    parts = list(Path(shown(image, root)).parts)
    folders = parts[:-1]
    if "images" in folders:
        parts[len(folders) - 1 - folders[::-1].index("images")] = "labels"
    return (root / Path(*parts)).with_suffix(".txt")


def _yolo_boxes(label, root, names, source):
    boxes = []
    for number, line in enumerate(label.read_text(encoding="utf-8-sig").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"{shown(label, root)} line {number}"
        values = [_number(field) for field in fields]
        if len(values) != 5 or None in values or not values[0].is_integer():
            raise UserError(
                f"{where}: {line.strip()!r} is not 'class cx cy w h': a whole class index, then the box's centre, "
                "width and height as fractions (0-1) of the image's width and height"
            )
        index, centre_x, centre_y, width, height = int(values[0]), *values[1:]
        if index < 0 or (names is not None and index >= len(names)):
            allowed = f"{source} names {len(names)} classes (0-{len(names) - 1})" if names else "indices start at 0"
            raise UserError(f"{where}: {line.strip()!r} has class {index}, but {allowed}")
        corners = (centre_x - width / 2, centre_y - height / 2, centre_x + width / 2, centre_y + height / 2)
        boxes.append((corners, index, where, " ".join(fields[1:])))
    return boxes


def read_voc(root):
    """Pascal VOC: `JPEGImages/` and one `Annotations/<stem>.xml` per image, boxes in pixels."""
    listed = read_names(root / "classes.txt", root)
    images = []
    for path in image_files(root / "JPEGImages", root):
        annotation = root / "Annotations" / f"{path.stem}.xml"
        if not annotation.is_file():
            raise UserError(
                f"Image {shown(path, root)} has no annotation {shown(annotation, root)}; every image needs one, "
                "and an annotation without <object> marks an image with no objects"
            )
        stated_size, boxes = _voc_objects(annotation, root)
        images.append(ImageLabels(path, boxes, stated_size=stated_size, annotation=shown(annotation, root)))
    class_names = listed or sorted({box[1] for image in images for box in image.boxes})
    index = {name: position for position, name in enumerate(class_names)}
    for image in images:
        for _, name, where, _ in image.boxes:
            if name not in index:
                raise UserError(f"{where}: class {name!r} is not in classes.txt ({first_few(class_names)})")
        image.boxes = [(corners, index[name], where, written) for corners, name, where, written in image.boxes]
    _voc_splits(root, images)
    return images, class_names, []


def _voc_objects(annotation, root):
    """The `(width, height)` an XML states (None if none) and its objects,
    each `(corners, class name, where, as written)`."""
    try:
        tree = ElementTree.parse(annotation).getroot()
    except ElementTree.ParseError as error:
        raise UserError(f"{shown(annotation, root)} is not valid XML: {first_line(error)}") from error
    size = [_number(tree.findtext(f"size/{side}")) for side in ("width", "height")]
    # Some tools write a size of 0 when they did not know it.
    stated_size = tuple(int(side) for side in size) if None not in size and min(size) > 0 else None
    boxes = []
    # `<difficult>1</difficult>` objects are kept like the others.
    for number, element in enumerate(tree.findall("object"), 1):
        name = (element.findtext("name") or "").strip()
        where = f"{shown(annotation, root)} object {number}" + (f" ({name})" if name else "")
        texts = [(element.findtext(f"bndbox/{key}") or "").strip() for key in ("xmin", "ymin", "xmax", "ymax")]
        values = [_number(text) for text in texts]
        if not name or None in values:
            raise UserError(f"{where} needs a <name> and a <bndbox> with numbers <xmin>, <ymin>, <xmax> and <ymax>")
        xmin, ymin, xmax, ymax = values
        # VOC counts pixels from 1 and includes the last one: a box over a
        # whole W-pixel-wide image is xmin=1, xmax=W, whose pixel edges are
        # 0 and W. So x1 = xmin - 1 and x2 = xmax (likewise y).
        boxes.append(((xmin - 1, ymin - 1, xmax, ymax), name, where, " ".join(texts)))
    return stated_size, boxes


def _voc_splits(root, images):
    """Marks each image with the splits `ImageSets/Main/{train,val,test}.txt` list it in
    (`trainval.txt` repeats train and val; class lists like `dog_train.txt` repeat them too)."""
    by_stem = {image.path.stem: image for image in images}
    for name in ("train", "val", "test"):
        path = root / "ImageSets" / "Main" / f"{name}.txt"
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8-sig").splitlines():
            fields = line.split()
            if not fields:
                continue
            if fields[0] not in by_stem:
                raise UserError(
                    f"{shown(path, root)} lists {fields[0]!r}, which has no image in JPEGImages/; "
                    "list the stems of images there, one a line"
                )
            by_stem[fields[0]].splits += (SPLIT_NAMES[name],)


def coco_file(root):
    """The COCO annotation file at the top of `root`, or None."""
    for name in COCO_FILES:
        if (root / name).is_file():
            return root / name
    found = sorted(path for path in root.glob("*.json") if not path.name.startswith(".") and path.is_file())
    if len(found) > 1:
        raise UserError(
            f"{str(root)!r} holds {len(found)} JSON files ({first_few([path.name for path in found])}); "
            "name the COCO annotations annotations.json"
        )
    return found[0] if found else None


def read_coco(root):
    """COCO: a JSON file beside `images/` (or the images themselves), boxes `[x, y, w, h]` in pixels."""
    path = coco_file(root)
    source = shown(path, root)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise UserError(f"{source} is not valid JSON: {error}") from error
    if not isinstance(data, dict) or not all(isinstance(data.get(key), list) for key in COCO_KEYS):
        raise UserError(f"{source} needs the lists {', '.join(COCO_KEYS)} of COCO's detection format")
    categories = [
        _fields(record, ("id", "name"), source, "category", number)
        for number, record in enumerate(data["categories"], 1)
    ]
    ids = sorted(category_id for category_id, _ in categories if isinstance(category_id, int))
    if len(set(ids)) < len(categories):
        raise UserError(f"{source} categories need ids that are whole numbers, a different one each")
    # Category ids may have gaps (COCO's run 1 to 90 for 80 classes): in id order they become 0, 1, 2, ...
    index = {category_id: position for position, category_id in enumerate(ids)}
    class_names = [str(name) for _, name in sorted(categories)]
    folder = root / "images" if (root / "images").is_dir() else root
    images, paths = {}, set()
    for number, record in enumerate(data["images"], 1):
        image_id, file_name = _fields(record, ("id", "file_name"), source, "image", number)
        image_path = folder / str(file_name)
        if not image_path.is_file() and (root / str(file_name)).is_file():
            image_path = root / str(file_name)  # a file_name of "images/0001.jpg" counts from the JSON's folder
        if image_id in images or image_path in paths:
            raise UserError(f"{source} lists image {file_name!r} (id {image_id!r}) twice")
        if not image_path.is_file():
            raise UserError(f"{source} lists image {file_name!r}, but {shown(image_path, root)} does not exist")
        size = [_number(record.get(side)) for side in ("width", "height")]
        stated_size = tuple(int(side) for side in size) if None not in size and min(size) > 0 else None
        images[image_id] = ImageLabels(image_path, [], stated_size=stated_size, annotation=source)
        paths.add(image_path)
    crowds = 0
    for number, record in enumerate(data["annotations"], 1):
        label = record.get("id", f"number {number}") if isinstance(record, dict) else f"number {number}"
        where = f"{source} annotation {label}"
        image_id, category_id, bbox = _fields(record, ("image_id", "category_id", "bbox"), where, "", None)
        if image_id not in images:
            raise UserError(f"{where} has image_id {image_id!r}, which no entry of images has")
        if category_id not in index:
            raise UserError(f"{where} has category_id {category_id!r}, which no entry of categories has")
        if record.get("iscrowd"):
            crowds += 1
            continue
        values = [_number(value) for value in bbox] if isinstance(bbox, list) else []
        if len(values) != 4 or None in values:
            raise UserError(f"{where} has bbox {bbox!r}; COCO boxes are [x, y, width, height], four numbers in pixels")
        x, y, width, height = values
        images[image_id].boxes.append(((x, y, x + width, y + height), index[category_id], where, json.dumps(bbox)))
    notes = []
    if crowds:
        notes.append(f"left out {crowds} crowd annotation(s) (iscrowd=1) of {source}: they outline groups, not objects")
    unlisted = [shown(image, root) for image in image_files(folder, root) if image not in paths]
    if unlisted:
        notes.append(f"left out {len(unlisted)} image(s) that {source} does not list: {first_few(unlisted)}")
    return list(images.values()), class_names, notes


def _fields(record, keys, source, kind, number):
    """`record[key]` for each key, or a UserError naming the record."""
    if not isinstance(record, dict) or any(key not in record for key in keys):
        name = f"{source} {kind} number {number}" if kind else source
        raise UserError(f"{name} needs {', '.join(keys)}")
    return tuple(record[key] for key in keys)
