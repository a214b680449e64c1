"""Media keys and desktop "now playing" on Linux: the MPRIS D-Bus interface.

Desktops (GNOME, KDE, and tools such as ``playerctl``) route the keyboard's media keys and their
sound menus to whichever program owns a bus name ``org.mpris.MediaPlayer2.*``. This module owns
``org.mpris.MediaPlayer2.cooptracks`` on the session bus (``…cooptracks.instance<pid>`` when
another Cooptracks has it) and exports, at ``/org/mpris/MediaPlayer2``, the two interfaces of the
MPRIS 2.2 specification that a player must have:

* ``org.mpris.MediaPlayer2``: Raise, Quit and the identity properties;
* ``org.mpris.MediaPlayer2.Player``: PlayPause, Play, Pause, Stop, Next, Previous, Seek,
  SetPosition, and PlaybackStatus, Metadata, Position, Volume, Shuffle, LoopStatus and the
  ``Can*`` properties, with ``PropertiesChanged`` and ``Seeked`` signals.

The wire protocol is spoken with jeepney (pure Python, explicit D-Bus signatures, so Position
is an ``x`` and an object path an ``o`` as the specification demands); the socket is watched
by a ``QSocketNotifier``, so every call is answered on the GUI thread, in the player bar's
own event loop. Where there is no session bus (other systems, a bare container) ``register``
returns False and the app keeps its in-window media-key shortcuts only.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QSocketNotifier, Signal

from player.engine import PlaybackState
from player.queue import RepeatMode

if TYPE_CHECKING:
    from jeepney import Message

    from app.ui.player_bar import PlayerBar
    from player.queue import QueueItem

log = logging.getLogger(__name__)

BUS_NAME = "org.mpris.MediaPlayer2.cooptracks"
PATH = "/org/mpris/MediaPlayer2"
ROOT_IFACE = "org.mpris.MediaPlayer2"
PLAYER_IFACE = "org.mpris.MediaPlayer2.Player"
PROPS_IFACE = "org.freedesktop.DBus.Properties"
NO_TRACK = "/org/mpris/MediaPlayer2/TrackList/NoTrack"
_LOOP = {RepeatMode.OFF: "None", RepeatMode.ONE: "Track", RepeatMode.ALL: "Playlist"}

_INTROSPECTION = f"""<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node>
 <interface name="org.freedesktop.DBus.Introspectable">
  <method name="Introspect"><arg name="xml" type="s" direction="out"/></method>
 </interface>
 <interface name="org.freedesktop.DBus.Peer">
  <method name="Ping"/>
 </interface>
 <interface name="{PROPS_IFACE}">
  <method name="Get"><arg type="s" direction="in"/><arg type="s" direction="in"/>
   <arg type="v" direction="out"/></method>
  <method name="GetAll"><arg type="s" direction="in"/><arg type="a{{sv}}" direction="out"/></method>
  <method name="Set"><arg type="s" direction="in"/><arg type="s" direction="in"/>
   <arg type="v" direction="in"/></method>
  <signal name="PropertiesChanged"><arg type="s"/><arg type="a{{sv}}"/><arg type="as"/></signal>
 </interface>
 <interface name="{ROOT_IFACE}">
  <method name="Raise"/>
  <method name="Quit"/>
  <property name="CanQuit" type="b" access="read"/>
  <property name="CanRaise" type="b" access="read"/>
  <property name="HasTrackList" type="b" access="read"/>
  <property name="Identity" type="s" access="read"/>
  <property name="DesktopEntry" type="s" access="read"/>
  <property name="SupportedUriSchemes" type="as" access="read"/>
  <property name="SupportedMimeTypes" type="as" access="read"/>
 </interface>
 <interface name="{PLAYER_IFACE}">
  <method name="Next"/>
  <method name="Previous"/>
  <method name="Pause"/>
  <method name="PlayPause"/>
  <method name="Stop"/>
  <method name="Play"/>
  <method name="Seek"><arg name="Offset" type="x" direction="in"/></method>
  <method name="SetPosition"><arg name="TrackId" type="o" direction="in"/>
   <arg name="Position" type="x" direction="in"/></method>
  <method name="OpenUri"><arg name="Uri" type="s" direction="in"/></method>
  <signal name="Seeked"><arg name="Position" type="x"/></signal>
  <property name="PlaybackStatus" type="s" access="read"/>
  <property name="LoopStatus" type="s" access="readwrite"/>
  <property name="Rate" type="d" access="readwrite"/>
  <property name="Shuffle" type="b" access="readwrite"/>
  <property name="Metadata" type="a{{sv}}" access="read"/>
  <property name="Volume" type="d" access="readwrite"/>
  <property name="Position" type="x" access="read"/>
  <property name="MinimumRate" type="d" access="read"/>
  <property name="MaximumRate" type="d" access="read"/>
  <property name="CanGoNext" type="b" access="read"/>
  <property name="CanGoPrevious" type="b" access="read"/>
  <property name="CanPlay" type="b" access="read"/>
  <property name="CanPause" type="b" access="read"/>
  <property name="CanSeek" type="b" access="read"/>
  <property name="CanControl" type="b" access="read"/>
 </interface>
</node>
"""


class DBusError(Exception):
    """A D-Bus error reply: ``name`` is the error's D-Bus name."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(text)
        self.name = name


def _track_path(key: Any) -> str:
    """An object path naming a queue item (MPRIS wants one per track)."""
    raw = key if isinstance(key, bytes) else repr(key).encode()
    return "/org/cooptracks/track/t" + hashlib.blake2b(raw, digest_size=12).hexdigest()


class MediaKeys(QObject):
    """Exports the player bar over MPRIS; its methods run the player bar's own actions."""

    raise_requested = Signal()
    quit_requested = Signal()

    def __init__(self, bar: PlayerBar, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bar = bar
        self.player = bar.player
        self.bus_name: str | None = None
        self._conn: Any = None
        self._notifier: QSocketNotifier | None = None
        self._art_dir: Path | None = None
        self._last: dict[str, dict[str, tuple[str, Any]]] = {}

    # -- connection ------------------------------------------------------------------------------
    def register(self, address: str | None = None) -> bool:
        """Connect to the session bus (or ``address``) and own an MPRIS name.

        Returns False, with a log line, where there is no bus to connect to.
        """
        address = address or os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        if not address:
            log.info("no D-Bus session bus: media keys work only while the window has focus")
            return False
        try:
            from jeepney.bus_messages import DBusNameFlags, message_bus
            from jeepney.io.blocking import open_dbus_connection

            conn = open_dbus_connection(bus=address, auth_timeout=1.0)
            name = BUS_NAME
            for name in (BUS_NAME, f"{BUS_NAME}.instance{os.getpid()}"):
                reply = conn.send_and_get_reply(
                    message_bus.RequestName(name, DBusNameFlags.do_not_queue), timeout=2.0
                )
                if reply.body and reply.body[0] in (1, 4):  # primary owner / already owner
                    break
            else:
                conn.close()
                log.warning("could not own an MPRIS name on the session bus")
                return False
        except Exception as exc:  # no daemon, a refused connection, jeepney missing
            log.info("media keys over D-Bus unavailable: %s", exc)
            return False
        conn.sock.settimeout(2.0)  # sends are tiny; a stuck bus must not hang the GUI for long
        self._conn = conn
        self.bus_name = name
        self._notifier = QSocketNotifier(conn.sock.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._readable)
        self.player.state_changed.connect(lambda _: self._changed())
        self.player.current_changed.connect(lambda _: self._changed())
        self.player.queue_changed.connect(lambda _: self._changed())
        self.bar.volume.valueChanged.connect(lambda _: self._changed())
        self.bar.seek.sliderReleased.connect(self._seeked)
        self._last = {PLAYER_IFACE: self._player_props()}
        return True

    @property
    def registered(self) -> bool:
        return self._conn is not None

    def unregister(self) -> None:
        """Give up the bus name and close the connection."""
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier = None
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()
        if self._art_dir is not None:
            for f in self._art_dir.glob("*"):
                f.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                self._art_dir.rmdir()

    def _readable(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            data = conn.sock.recv(65536)
        except (TimeoutError, BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.warning("the D-Bus session bus connection failed: %s", exc)
            self.unregister()
            return
        if not data:
            log.info("the D-Bus session bus went away")
            self.unregister()
            return
        conn.parser.add_data(data)
        while self._conn is not None and (msg := conn.parser.get_next_message()) is not None:
            self._handle(msg)

    def _send(self, msg: Message) -> None:
        if self._conn is None:
            return
        try:
            self._conn.send(msg)
        except OSError as exc:
            log.warning("could not write to the D-Bus session bus: %s", exc)
            self.unregister()

    # -- calls -------------------------------------------------------------------------------------
    def _handle(self, msg: Message) -> None:
        from jeepney import HeaderFields, MessageType, new_error, new_method_return

        if msg.header.message_type != MessageType.method_call:
            return
        fields = msg.header.fields
        if fields.get(HeaderFields.path) != PATH:
            self._send(
                new_error(
                    msg,
                    "org.freedesktop.DBus.Error.UnknownObject",
                    "s",
                    (f"no object at {fields.get(HeaderFields.path)}",),
                )
            )
            return
        iface = fields.get(HeaderFields.interface, "")
        member = fields.get(HeaderFields.member, "")
        try:
            signature, body = self._call(iface, member, msg.body)
        except DBusError as err:
            self._send(new_error(msg, err.name, "s", (str(err),)))
            return
        except Exception as exc:  # a bug must not take the bus connection down
            log.exception("MPRIS call %s.%s failed", iface, member)
            self._send(new_error(msg, "org.freedesktop.DBus.Error.Failed", "s", (str(exc),)))
            return
        self._send(new_method_return(msg, signature, body))

    def _call(self, iface: str, member: str, args: tuple) -> tuple[str | None, tuple]:
        if iface == "org.freedesktop.DBus.Introspectable" and member == "Introspect":
            return "s", (_INTROSPECTION,)
        if iface == "org.freedesktop.DBus.Peer" and member == "Ping":
            return None, ()
        if iface == PROPS_IFACE:
            return self._properties(member, args)
        if iface in (ROOT_IFACE, "") and member in ("Raise", "Quit"):
            (self.raise_requested if member == "Raise" else self.quit_requested).emit()
            return None, ()
        if iface in (PLAYER_IFACE, ""):
            self._player_call(member, args)
            return None, ()
        raise DBusError(
            "org.freedesktop.DBus.Error.UnknownMethod", f"no method {member} on {iface}"
        )

    def _player_call(self, member: str, args: tuple) -> None:
        p = self.player
        if member == "PlayPause":
            self.bar.toggle()
        elif member == "Play":
            p.play()
        elif member == "Pause":
            p.pause()
        elif member == "Stop":
            p.stop()
        elif member == "Next":
            p.next()
        elif member == "Previous":
            p.previous()
        elif member == "Seek":
            target = p.engine.position_ms + int(args[0]) // 1000
            if target >= p.engine.duration_ms > 0:
                p.next()  # past the end: the specification says skip to the next track
            else:
                p.seek(max(0, target))
                self._seeked()
        elif member == "SetPosition":
            track, position_us = args
            item = p.current
            if (
                item is not None
                and track == _track_path(item.key)
                and 0 <= position_us // 1000 <= p.engine.duration_ms
            ):
                p.seek(position_us // 1000)
                self._seeked()
        elif member == "OpenUri":
            raise DBusError(
                "org.freedesktop.DBus.Error.NotSupported",
                "Cooptracks plays music from its own library only",
            )
        else:
            raise DBusError(
                "org.freedesktop.DBus.Error.UnknownMethod", f"no method {member} on {PLAYER_IFACE}"
            )

    # -- properties --------------------------------------------------------------------------------
    def _properties(self, member: str, args: tuple) -> tuple[str | None, tuple]:
        if member == "GetAll":
            return "a{sv}", (self._props(args[0]),)
        if member == "Get":
            iface, name = args
            props = self._props(iface)
            if name not in props:
                raise DBusError(
                    "org.freedesktop.DBus.Error.UnknownProperty", f"no property {name} on {iface}"
                )
            return "v", (props[name],)
        if member == "Set":
            iface, name, (_sig, value) = args
            self._set(iface, name, value)
            return None, ()
        raise DBusError("org.freedesktop.DBus.Error.UnknownMethod", f"no method {member}")

    def _props(self, iface: str) -> dict[str, tuple[str, Any]]:
        if iface == ROOT_IFACE:
            return {
                "CanQuit": ("b", True),
                "CanRaise": ("b", True),
                "HasTrackList": ("b", False),
                "Identity": ("s", "Cooptracks"),
                "DesktopEntry": ("s", "cooptracks"),
                "SupportedUriSchemes": ("as", []),
                "SupportedMimeTypes": ("as", []),
            }
        if iface == PLAYER_IFACE:
            props = self._player_props()
            props["Position"] = ("x", self.player.engine.position_ms * 1000)
            return props
        raise DBusError("org.freedesktop.DBus.Error.UnknownInterface", f"no interface {iface}")

    def _player_props(self) -> dict[str, tuple[str, Any]]:
        """The Player properties that PropertiesChanged reports (all but Position)."""
        p = self.player
        state = p.state
        status = {
            PlaybackState.PLAYING: "Playing",
            PlaybackState.LOADING: "Playing",
            PlaybackState.PAUSED: "Paused",
        }.get(state, "Stopped")
        has = p.current is not None
        order = p.play_order
        at = order.index(p.current) if has and p.current in order else -1
        return {
            "PlaybackStatus": ("s", status),
            "LoopStatus": ("s", _LOOP[p.repeat]),
            "Rate": ("d", 1.0),
            "MinimumRate": ("d", 1.0),
            "MaximumRate": ("d", 1.0),
            "Shuffle": ("b", p.shuffle),
            "Metadata": ("a{sv}", self._metadata(p.current)),
            "Volume": ("d", self.bar.volume.value() / 100),
            "CanGoNext": ("b", has and (at + 1 < len(order) or p.repeat == RepeatMode.ALL)),
            "CanGoPrevious": ("b", has),
            "CanPlay": ("b", bool(p.queue)),
            "CanPause": ("b", has),
            "CanSeek": ("b", has and p.engine.duration_ms > 0),
            "CanControl": ("b", True),
        }

    def _metadata(self, item: QueueItem | None) -> dict[str, tuple[str, Any]]:
        if item is None:
            return {"mpris:trackid": ("o", NO_TRACK)}
        length = item.source.duration_ms or self.player.engine.duration_ms
        meta: dict[str, tuple[str, Any]] = {
            "mpris:trackid": ("o", _track_path(item.key)),
            "mpris:length": ("x", int(length) * 1000),
            "xesam:title": ("s", item.title),
            "xesam:artist": ("as", [item.artist] if item.artist else []),
        }
        art = self._art_file(item)
        if art is not None:
            meta["mpris:artUrl"] = ("s", art.as_uri())
        return meta

    def _art_file(self, item: QueueItem) -> Path | None:
        """Desktop shells show cover art from a file URL: write it once to a private folder."""
        data = self.bar.artwork.get(item.key)
        if not data:
            return None
        if self._art_dir is None:
            self._art_dir = Path(tempfile.mkdtemp(prefix="cooptracks-art-"))
        path = self._art_dir / (hashlib.blake2b(data, digest_size=12).hexdigest() + ".img")
        if not path.exists():
            path.write_bytes(data)
        return path

    def _set(self, iface: str, name: str, value: Any) -> None:
        if iface != PLAYER_IFACE:
            raise DBusError("org.freedesktop.DBus.Error.PropertyReadOnly", f"{name} is read-only")
        if name == "Volume":
            self.bar.volume.setValue(round(min(1.0, max(0.0, float(value))) * 100))
        elif name == "Shuffle":
            self.player.set_shuffle(bool(value))
            self._changed()
        elif name == "LoopStatus":
            modes = {v: k for k, v in _LOOP.items()}
            if value not in modes:
                raise DBusError(
                    "org.freedesktop.DBus.Error.InvalidArgs",
                    f"LoopStatus is one of {', '.join(modes)}",
                )
            self.player.repeat = modes[value]
            self._changed()
        elif name == "Rate":
            if float(value) != 1.0:
                raise DBusError("org.freedesktop.DBus.Error.NotSupported", "only rate 1.0")
        else:
            raise DBusError("org.freedesktop.DBus.Error.PropertyReadOnly", f"{name} is read-only")

    # -- signals -----------------------------------------------------------------------------------
    def _changed(self) -> None:
        """Emit PropertiesChanged with the Player properties that differ from last time."""
        if self._conn is None:
            return
        from jeepney import DBusAddress, new_signal

        now = self._player_props()
        before = self._last.get(PLAYER_IFACE, {})
        changed = {k: v for k, v in now.items() if before.get(k) != v}
        self._last[PLAYER_IFACE] = now
        if changed:
            emitter = DBusAddress(PATH, interface=PROPS_IFACE)
            self._send(
                new_signal(emitter, "PropertiesChanged", "sa{sv}as", (PLAYER_IFACE, changed, []))
            )

    def _seeked(self) -> None:
        if self._conn is None:
            return
        from jeepney import DBusAddress, new_signal

        emitter = DBusAddress(PATH, interface=PLAYER_IFACE)
        self._send(new_signal(emitter, "Seeked", "x", (self.player.engine.position_ms * 1000,)))
