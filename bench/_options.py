"""--name=N options of a benchmark, refused by name when unknown or not a whole number: a typo
(or --help) used to be ignored, and the benchmark ran minutes with its defaults."""

from __future__ import annotations

from collections.abc import Collection, Mapping


def int_options(argv: list[str], defaults: Mapping[str, int], *, parsed_elsewhere: Collection[str] = ()) -> dict[str, int]:
    """Each --name=N of `defaults` from argv, the defaults otherwise. Names in `parsed_elsewhere`
    (a flag, a list, a word) are the caller's to read; anything else stops with a message."""
    options = dict(defaults)
    for arg in argv:
        name, _, value = arg.lstrip("-").partition("=")
        if name in parsed_elsewhere:
            continue
        if name not in options:
            known = ", ".join(f"--{n}" for n in [*options, *parsed_elsewhere])
            raise SystemExit(f"unknown option {arg!r}; this benchmark takes {known} "
                             "(python -m bench <name> --help says what each does)")
        if not value.isdigit():
            raise SystemExit(f"--{name} takes a whole number, e.g. --{name}={defaults[name]}; got {arg!r}")
        options[name] = int(value)
    return options
