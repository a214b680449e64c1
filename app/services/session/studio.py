"""The studio: an artist's releases, sales and agents, publishing, and reading tags of files to
publish."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app.services.errors import UserError
from app.services.events import Notice
from app.services.money import format_amount
from app.services.session.store import StoreMixin
from app.services.session.views import AgentView, SaleView, StudioView
from ledger.keys import peer_id

if TYPE_CHECKING:
    from app.services.studio import PublishResult, ReleaseDraft

log = logging.getLogger(__name__)


class StudioMixin(StoreMixin):
    """What the Studio view shows and does."""

    def studio_view(self) -> StudioView:
        state = self.core.ledger.state
        cards = tuple(self._card(li, set()) for li in self.studio.releases())
        sales = []
        totals: dict[str, int] = {}
        for s in self.studio.sales():
            asset = state.assets.get(s.asset)
            prec, sym = (asset.precision, asset.symbol) if asset else (0, "")
            sales.append(
                SaleView(
                    s.timestamp,
                    s.listing.title,
                    format_amount(s.my_share, prec, sym),
                    s.my_share,
                    s.fulfilled,
                )
            )
            totals[sym] = totals.get(sym, 0) + s.my_share
        total = ", ".join(format_amount(v, 2, k) for k, v in totals.items()) or "0.00"
        issuers = self.wallet.trusted_issuers()
        assets = tuple(
            (a.id, a.symbol)
            for a in state.assets.values()
            if self.wallet.is_trusted(a, issuers) or "stable" in a.flags
        )
        agents = []
        for agent, (can, cannot) in sorted(self.studio.agent_coverage().items()):
            profile = state.profiles.get(agent)
            agents.append(
                AgentView(
                    profile.name if profile else "",
                    peer_id(agent),
                    tuple(li.title for li in can),
                    tuple(li.title for li in cannot),
                )
            )
        return StudioView(cards, tuple(sales), total, assets, tuple(agents))

    def publish(
        self,
        draft: ReleaseDraft,
        progress: Callable[[int, int, str], None],
        cancel: threading.Event,
    ) -> PublishResult:
        def step(done: int, total: int, what: str) -> None:
            if cancel.is_set():
                raise UserError("publishing was cancelled; nothing was signed")
            progress(done, total, what)

        with self._lock:
            result = self.studio.publish(draft, step)
        self.core.events.emit(Notice(f"published {result.listing.title!r}"))
        try:
            self.network.sync(self.core)
        except Exception as exc:
            log.info("release will sync later: %s", exc)
        return result

    def sales_csv(self) -> str:
        return self.studio.sales_csv()

    def read_tags(self, paths: Sequence[Path]) -> list[dict[str, object]]:
        """Tags of local files for the publish wizard (title, artist, album, duration), one
        dict per path; a file that cannot be read gets ``{"path", "error"}`` instead (the
        reason), so one bad file costs only itself."""
        from player.formats import BadAudioFile, read_audio

        out: list[dict[str, object]] = []
        for p in paths:
            try:
                info = read_audio(Path(p))
            except (BadAudioFile, OSError) as exc:
                out.append({"path": str(p), "error": f"{Path(p).name}: {exc}"})
                continue
            out.append(
                {
                    "path": str(p),
                    "title": info.title or Path(p).stem,
                    "artist": info.artist,
                    "album": info.album,
                    "genre": info.genre,
                    "duration_ms": info.duration_ms,
                    "artwork": info.artwork.data if info.artwork else None,
                }
            )
        return out
