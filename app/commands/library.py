"""``cooptracks library``, ``cooptracks search`` and ``cooptracks playlist``.

Playlist positions on the command line count from 1, as a user reads a list.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from app.services.errors import UserError

if TYPE_CHECKING:  # numpy, mutagen and PyAV load with them: only when a command runs
    from app.services.library import LibraryService
    from player.library import Playlist, Track
    from player.search import Scope


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the library, search and playlist commands to the CLI."""
    lib = subparsers.add_parser("library", parents=[common], help="your music library")
    lsub = lib.add_subparsers(dest="library_command", metavar="ACTION", required=True)

    p = lsub.add_parser("import", parents=[common], help="import a folder of audio files")
    p.add_argument("folder", help="folder to scan (recursively)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=_import)

    p = lsub.add_parser("list", parents=[common], help="list tracks")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_list)

    p = lsub.add_parser("problems", parents=[common], help="files that could not be imported")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_problems)

    p = lsub.add_parser(
        "offline", parents=[common], help="mark a track as available offline (or not)"
    )
    p.add_argument("track", help="track id, or words matching one track")
    p.add_argument("state", choices=["on", "off"])
    p.set_defaults(handler=_offline)

    s = subparsers.add_parser(
        "search", parents=[common], help="search your library and the store catalog"
    )
    s.add_argument("query", nargs="+", help="words; each matches the start of a word")
    s.add_argument("--limit", type=int, default=20)
    scope = s.add_mutually_exclusive_group()
    scope.add_argument(
        "--library", dest="scope", action="store_const", const="library", help="only your library"
    )
    scope.add_argument(
        "--store",
        dest="scope",
        action="store_const",
        const="catalog",
        help="only the store catalog",
    )
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=_search, scope=None)

    pl = subparsers.add_parser("playlist", parents=[common], help="manage playlists")
    psub = pl.add_subparsers(dest="playlist_command", metavar="ACTION", required=True)
    p = psub.add_parser("create", parents=[common], help="create a playlist")
    p.add_argument("name")
    p.add_argument("tracks", nargs="*", help="track ids to start with")
    p.set_defaults(handler=_pl_create)
    p = psub.add_parser("add", parents=[common], help="add tracks to a playlist")
    p.add_argument("name")
    p.add_argument("tracks", nargs="+", help="track ids (or words matching one track)")
    p.add_argument("--at", type=int, default=None, help="insert at this position (1 = first)")
    p.set_defaults(handler=_pl_add)
    p = psub.add_parser("remove", parents=[common], help="remove the entry at a position")
    p.add_argument("name")
    p.add_argument("position", type=int, help="1 = first")
    p.set_defaults(handler=_pl_remove)
    p = psub.add_parser("move", parents=[common], help="move an entry to another position")
    p.add_argument("name")
    p.add_argument("from_pos", type=int, metavar="FROM")
    p.add_argument("to_pos", type=int, metavar="TO")
    p.set_defaults(handler=_pl_move)
    p = psub.add_parser("rename", parents=[common], help="rename a playlist")
    p.add_argument("name")
    p.add_argument("new_name")
    p.set_defaults(handler=_pl_rename)
    p = psub.add_parser("delete", parents=[common], help="delete a playlist")
    p.add_argument("name")
    p.set_defaults(handler=_pl_delete)
    p = psub.add_parser("list", parents=[common], help="list playlists, or one playlist")
    p.add_argument("name", nargs="?")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_pl_list)


def _service(args: argparse.Namespace) -> LibraryService:
    from app.services.library import LibraryService

    return LibraryService(args.profile_obj)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _print_json(value: Any) -> None:
    print(json.dumps(_jsonable(value), indent=2, ensure_ascii=False))


def _fmt_duration(ms: int) -> str:
    seconds = round(ms / 1000)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _track_line(t: Track) -> str:
    flags = ("" if not t.offline else " [offline]") + ("" if not t.missing else " [missing]")
    who = t.artist or "unknown artist"
    album = f" ({t.album})" if t.album else ""
    return f"{t.id:>5}  {who} - {t.title}{album}  {_fmt_duration(t.duration_ms)}{flags}"


def _import(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        report = service.import_folder(args.folder)
    finally:
        service.close()
    if args.json:
        _print_json({**asdict(report), "scanned": report.scanned})
        return 0
    print(
        f"Imported {args.folder}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.moved} moved, {report.missing} now missing, "
        f"{len(report.failed)} failed."
    )
    for problem in report.failed:
        print(f"  failed  {problem.path}: {problem.reason}")
    for problem in report.warnings:
        print(f"  warning {problem.path}: {problem.reason}")
    return 0


def _list(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        tracks = service.tracks()
    finally:
        service.close()
    if args.json:
        _print_json([asdict(t) for t in tracks])
    else:
        for t in tracks:
            print(_track_line(t))
        print(f"{len(tracks)} tracks")
    return 0


def _problems(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        problems = service.problems()
    finally:
        service.close()
    if args.json:
        _print_json([asdict(p) for p in problems])
    else:
        for p in problems:
            print(f"{p.path}: {p.reason}")
    return 0


def _offline(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        track = service.set_offline(args.track, args.state == "on")
    finally:
        service.close()
    print(_track_line(track))
    return 0


def _search(args: argparse.Namespace) -> int:
    scopes: tuple[Scope, ...] = ("library", "catalog") if args.scope is None else (args.scope,)
    service = _service(args)
    try:
        results = service.search(" ".join(args.query), args.limit, scopes)
    finally:
        service.close()
    if args.json:
        _print_json(
            {
                "query": results.query,
                "library": [asdict(h) for h in results.library],
                "catalog": [asdict(h) for h in results.catalog],
            }
        )
        return 0
    if "library" in scopes:
        print(f"Library ({len(results.library)}):")
        for h in results.library:
            print(
                f"{h.track_id:>5}  {h.artist} - {h.title} ({h.album})  "
                f"{_fmt_duration(h.duration_ms)}"
            )
    if "catalog" in scopes:
        print(f"Store ({len(results.catalog)}):")
        for c in results.catalog:
            print(
                f"  {c.artist} - {c.title} ({c.album})  {_fmt_duration(c.duration_ms)}  "
                f"listing {c.listing_id.hex()[:16]}"
            )
    return 0


def _print_playlist(service: LibraryService, pl: Playlist) -> None:
    print(f"{pl.name} ({len(pl.track_ids)} tracks)")
    for pos, track_id in enumerate(pl.track_ids, start=1):
        print(f"  {pos:>3}. {_track_line(service.library.track(track_id)).strip()}")


def _with_playlist(args: argparse.Namespace, action: Any) -> int:
    from player.library import Playlist

    service = _service(args)
    try:
        result = action(service)
        if isinstance(result, Playlist):
            _print_playlist(service, result)
    finally:
        service.close()
    return 0


def _position(value: int) -> int:
    if value < 1:
        raise UserError("positions count from 1")
    return value - 1


def _pl_create(args: argparse.Namespace) -> int:
    return _with_playlist(args, lambda s: s.create_playlist(args.name, args.tracks))


def _pl_add(args: argparse.Namespace) -> int:
    at = None if args.at is None else _position(args.at)
    return _with_playlist(args, lambda s: s.add_to_playlist(args.name, args.tracks, at))


def _pl_remove(args: argparse.Namespace) -> int:
    return _with_playlist(
        args, lambda s: s.remove_from_playlist(args.name, _position(args.position))
    )


def _pl_move(args: argparse.Namespace) -> int:
    return _with_playlist(
        args,
        lambda s: s.move_in_playlist(args.name, _position(args.from_pos), _position(args.to_pos)),
    )


def _pl_rename(args: argparse.Namespace) -> int:
    return _with_playlist(args, lambda s: s.rename_playlist(args.name, args.new_name))


def _pl_delete(args: argparse.Namespace) -> int:
    def delete(s: LibraryService) -> None:
        s.delete_playlist(args.name)
        print(f"Deleted playlist {args.name!r}")

    return _with_playlist(args, delete)


def _pl_list(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        if args.name:
            pl = service.playlist(args.name)
            if args.json:
                _print_json(asdict(pl))
            else:
                _print_playlist(service, pl)
            return 0
        lists = service.playlists()
        if args.json:
            _print_json([asdict(p) for p in lists])
        else:
            for p in lists:
                print(f"{p.name} ({len(p.track_ids)} tracks)")
    finally:
        service.close()
    return 0
