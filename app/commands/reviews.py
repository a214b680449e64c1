"""Review commands: ``cooptracks review RELEASE STARS``, ``cooptracks reviews RELEASE`` and
``cooptracks review-reply REVIEW TEXT``. Every command prints JSON with ``--json``."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from app.commands._io import add_json_flag, emit, passphrase
from app.services.core import Core
from app.services.reviews import ReviewService


def _with_service(
    fn: Callable[[argparse.Namespace, ReviewService], int],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        with Core.open(args.profile_obj, passphrase(args)) as core:
            return fn(args, ReviewService(core))

    return run


def _review(args: argparse.Namespace, svc: ReviewService) -> int:
    rid = svc.review(args.release, args.stars, args.text)
    emit(args, {"review": rid.hex()}, f"review {rid.hex()} signed")
    return 0


def _reviews(args: argparse.Namespace, svc: ReviewService) -> int:
    lines, (total, count) = svc.reviews(args.release)
    doc = {
        "count": count,
        "average": round(total / count, 2) if count else None,
        "reviews": [
            {
                "review": ln.review.id.hex(),
                "buyer": ln.review.buyer.hex(),
                "rating": ln.review.rating,
                "text": ln.review.text,
                "reply": ln.reply.text if ln.reply else None,
            }
            for ln in lines
        ],
    }
    text = [f"{count} reviews" + (f", {total / count:.1f} stars" if count else "")]
    for ln in lines:
        text.append(f"{ln.review.id.hex()[:12]}  {'*' * ln.review.rating}  {ln.review.text}")
        if ln.reply:
            text.append(f"    artist: {ln.reply.text}")
    emit(args, doc, "\n".join(text))
    return 0


def _reply(args: argparse.Namespace, svc: ReviewService) -> int:
    rid = svc.reply(args.review, args.text)
    emit(args, {"reply": rid.hex()}, f"reply {rid.hex()[:12]} signed")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    def cmd(
        name: str, fn: Callable[[argparse.Namespace, ReviewService], int], help: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help)
        add_json_flag(p)
        p.set_defaults(handler=_with_service(fn))
        return p

    p = cmd("review", _review, "rate a release you bought (1 to 5 stars)")
    p.add_argument("release")
    p.add_argument("stars", type=int)
    p.add_argument("--text", default="")
    p = cmd("reviews", _reviews, "the reviews of a release (each buyer's latest)")
    p.add_argument("release")
    p = cmd("review-reply", _reply, "as the artist: answer a review")
    p.add_argument("review")
    p.add_argument("text")
