"""Config values from text: KEY=VALUE pairs, typed values, variant lists and class weights.

What a user types (on the command line, or in a preset's YAML) becomes the
type a `Config` field declares; a value that cannot is a one-line
`UserError` that names the key and echoes the value.
"""

from kerasdl.errors import UserError

TFLITE_VARIANTS = ("float32", "float16", "dynamic", "int8")


def parse_variants(text):
    """`"int8,float16"` -> `("float32", "float16", "int8")`: float32 first, then in order."""
    names = [name.strip() for name in str(text).split(",") if name.strip()]
    unknown = [name for name in names if name not in TFLITE_VARIANTS]
    if not names:
        raise UserError("variants names no TFLite variant; choose from: " + ", ".join(TFLITE_VARIANTS))
    if unknown:
        raise UserError(f"Unknown TFLite variant {unknown[0]!r}; choose from: {', '.join(TFLITE_VARIANTS)}")
    return tuple(name for name in TFLITE_VARIANTS if name in names or name == "float32")


def parse_overrides(pairs):
    """Turns `["epochs=5", "model.units=32"]` into `{"epochs": "5", ...}`."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"Expected KEY=VALUE, got {pair!r} (for example epochs=5)")
        overrides[key.strip()] = value.strip()
    return overrides


def parse_class_weights(text):
    """`"1,5"` -> `(1.0, 5.0)`; empty -> `()`. Each weight a number > 0."""
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    try:
        weights = tuple(float(item) for item in items)
    except ValueError:
        weights = ()
    if len(weights) != len(items) or any(not 0 < weight < 1e6 for weight in weights):
        raise UserError(f"class_weights={text!r} must be comma-separated numbers > 0, one per class (e.g. 1,5)")
    return weights


def coerce(key, value, kind):
    """Converts `value` (often a string from the command line) to `kind`."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in ("true", "yes", "1", "on"):
            return True
        if text in ("false", "no", "0", "off"):
            return False
        raise UserError(f"{key} must be true or false, got {value!r}")
    if kind is tuple:
        items = value if isinstance(value, (list, tuple)) else str(value).split(",")
        try:
            result = tuple(int(str(item).strip()) for item in items if str(item).strip())
        except ValueError:
            raise UserError(f"{key} must be a comma-separated list of integers, got {value!r}") from None
        if not result or min(result) < 1:
            raise UserError(f"{key} must list one or more integers >= 1, got {value!r}")
        return result
    if kind in (int, float):
        what = "an integer" if kind is int else "a number"
        if isinstance(value, bool):
            raise UserError(f"{key} must be {what}, got {value!r}")
        try:
            number = float(value)
            if kind is int:
                if number != int(number):
                    raise ValueError
                return int(number)
            return number
        except (TypeError, ValueError, OverflowError):
            raise UserError(f"{key} must be {what}, got {value!r}") from None
    if value is None:
        return ""
    if isinstance(value, bool):  # YAML's `jit_compile: true`
        return "true" if value else "false"
    return str(value)


def positive_seconds(text):
    """`text` as a positive number of seconds, else infinity."""
    try:
        seconds = float(text)
    except ValueError:
        return float("inf")
    return seconds if seconds > 0 else float("inf")
