"""Whether a window can open here, asked before Qt starts (and before the demo world is built).

Without this, a machine with no display gets Qt's "could not load the Qt platform plugin" abort
instead of a sentence. Qt-free, so the command line can ask it cheaply.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

HEADLESS_HINT = (
    "`cooptracks demo --headless --check` runs the same store without a window: "
    "it buys, waits for the grant, downloads and checks the audio"
)


def display_problem(
    env: Mapping[str, str] | None = None, platform: str | None = None
) -> str | None:
    """A plain sentence if the desktop app cannot open a window here, else None."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None  # macOS and Windows always have their own display
    # QT_QPA_PLATFORM may name fallbacks ("wayland;xcb") and options ("xcb:foo").
    platforms = [p.split(":")[0].strip() for p in env.get("QT_QPA_PLATFORM", "").split(";")]
    needed: list[str] = []
    for qpa in platforms:
        if qpa == "":
            needed += ["DISPLAY", "WAYLAND_DISPLAY"]
        elif qpa == "xcb":
            needed.append("DISPLAY")
        elif qpa.startswith("wayland"):
            needed.append("WAYLAND_DISPLAY")
        else:
            return None  # offscreen, vnc, eglfs, ...: no display server needed
    needed = list(dict.fromkeys(needed))
    if any(env.get(name) for name in needed):
        return None
    unset = " and ".join(needed)
    return (
        f"no display: {unset} {'is' if len(needed) == 1 else 'are'} not set, so the desktop "
        f"app cannot open its window here. {HEADLESS_HINT}"
    )
